import { ParseError } from '../../../kit/errors.ts';

/**
 * One line of `ipmi-sensors --comma-separated-output --no-header-output
 * --output-sensor-state --non-abbreviated-units`: `ID,Name,Type,State,Reading,Units,Event`.
 */
export interface SensorReading {
  readonly id: string;
  readonly name: string;
  /** IPMI sensor type as FreeIPMI names it: `Temperature`, `Fan`, `Voltage`, `Current`, … */
  readonly type: string;
  /** `Nominal`, `Warning`, `Critical` or `N/A`. */
  readonly state: string;
  /** The reading; undefined for discrete sensors and readings the BMC does not give (`N/A`). */
  readonly value: number | undefined;
  /** `degrees C`, `RPM`, `Volts`, `Amps`, `Watts`, … or `N/A`. */
  readonly units: string;
  readonly event: string;
}

export function parseSensors(text: string, source: string): SensorReading[] {
  const out: SensorReading[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const fields = line.split(',');
    if (fields.length < 7)
      throw new ParseError(
        source,
        i + 1,
        `expected ID,Name,Type,State,Reading,Units,Event, got ${JSON.stringify(line.slice(0, 120))}`,
      );
    // A sensor name may hold commas: the fields after it are counted from the end.
    const [id = '', ...rest] = fields;
    const event = rest.slice(rest.length - 1).join(',');
    const [type = '', state = '', reading = '', units = ''] = rest.slice(rest.length - 5, rest.length - 1);
    const name = rest.slice(0, rest.length - 5).join(',');
    if (!/^\d+$/.test(id))
      throw new ParseError(source, i + 1, `sensor id ${JSON.stringify(id)} is not a number`);
    let value: number | undefined;
    if (reading !== 'N/A' && reading !== '') {
      value = Number(reading);
      if (!Number.isFinite(value))
        throw new ParseError(source, i + 1, `reading ${JSON.stringify(reading)} is not a number`);
    }
    out.push({ id, name, type, state, value, units, event: event.replace(/^'|'$/g, '') });
  });
  return out;
}

/** `ipmi-dcmi --get-system-power-statistics`: `Current Power : 250 Watts` and the like. */
export interface DcmiPower {
  readonly current: number | undefined;
  readonly minimum: number | undefined;
  readonly maximum: number | undefined;
  readonly average: number | undefined;
  /** Whether the BMC says power measurement is active. */
  readonly active: boolean | undefined;
}

export function parseDcmiPower(text: string, source: string): DcmiPower {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const watts = (key: string): number | undefined => {
    const value = fields.get(key);
    if (value === undefined) return undefined;
    const match = /^(\d+(?:\.\d+)?)\s*Watts$/i.exec(value);
    if (match === null) throw new ParseError(source, 1, `${key}: ${JSON.stringify(value)} is not "N Watts"`);
    return Number(match[1]);
  };
  const result = {
    current: watts('current power'),
    minimum: watts('minimum power over sampling duration'),
    maximum: watts('maximum power over sampling duration'),
    average: watts('average power over sampling duration'),
    active: fields.has('power measurement')
      ? fields.get('power measurement')?.toLowerCase() === 'active'
      : undefined,
  };
  if (result.current === undefined) throw new ParseError(source, 1, 'no "Current Power" line');
  return result;
}
