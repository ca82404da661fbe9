/**
 * A line of OmegaWatt's `wattmetre-read`: comma-separated; the third field is the Unix time
 * in seconds with a fraction, the fourth `OK` for a valid frame, then the power in watts of
 * each port, empty when a port has no reading.
 */
export interface Frame {
  /** Unix time in seconds, with its fraction. */
  readonly time: number;
  /** Watts by port number; undefined where the port had no reading. */
  readonly watts: readonly (number | undefined)[];
}

/** Why a line is not a frame. */
export type InvalidReason = 'malformed' | 'not_ok';

export type ParsedLine = { ok: true; frame: Frame } | { ok: false; reason: InvalidReason; detail: string };

/** Parses one line; never throws. */
export function parseFrame(line: string): ParsedLine {
  const fields = line.trim().split(',');
  if (fields.length < 5)
    return { ok: false, reason: 'malformed', detail: `${String(fields.length)} fields, expected at least 5` };
  const timeText = fields[2] ?? '';
  const time = Number(timeText);
  if (timeText === '' || !Number.isFinite(time) || time <= 0) {
    return {
      ok: false,
      reason: 'malformed',
      detail: `timestamp ${JSON.stringify(timeText)} is not a Unix time`,
    };
  }
  if (fields[3] !== 'OK')
    return { ok: false, reason: 'not_ok', detail: `frame status ${JSON.stringify(fields[3])}` };
  const watts: (number | undefined)[] = [];
  for (let i = 4; i < fields.length; i++) {
    const text = (fields[i] ?? '').trim();
    if (text === '') {
      watts.push(undefined);
      continue;
    }
    const value = Number(text);
    if (!Number.isFinite(value)) {
      return {
        ok: false,
        reason: 'malformed',
        detail: `port ${String(i - 4)}: ${JSON.stringify(text)} is not a number`,
      };
    }
    watts.push(value);
  }
  return { ok: true, frame: { time, watts } };
}
