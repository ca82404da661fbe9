import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorLog, REPEAT_SUMMARY_MS } from './error-log.ts';
import { createLogger } from './logger.ts';

function capture(): { log: (now: () => number) => ErrorLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('info', stream);
  return { log: (now) => new ErrorLog(logger, { now }), lines };
}

describe('error log', () => {
  it('logs an error once per key, sums repetitions up once a minute, and counts them at recovery', () => {
    const { log, lines } = capture();
    let now = 0;
    const errors = log(() => now);
    for (let i = 0; i < 100; i++) {
      errors.report('target-a', new Error('timed out'));
      now += 1000;
    }
    errors.recovered('target-a');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'timed out'],
      [40, 'timed out (61 times in the last 60 s)'],
      [30, 'recovered'],
    ]);
    expect(lines[2]).toMatchObject({ key: 'target-a', after: 100 });
    expect(REPEAT_SUMMARY_MS).toBe(60_000);
  });

  it('follows each kind of a key apart, whatever the messages, without stacks', () => {
    const { log, lines } = capture();
    const errors = log(() => 0);
    for (let i = 0; i < 50; i++) {
      errors.report('frame', new Error(`line ${String(i)} is garbage`), 'malformed');
      errors.report('frame', new Error(`status CRC${String(i)}`), 'not_ok');
    }
    expect(lines.map((l) => [l.kind, l.msg])).toEqual([
      ['malformed', 'line 0 is garbage'],
      ['not_ok', 'status CRC0'],
    ]);
    for (const l of lines) expect(l).not.toHaveProperty('err');
    expect(errors.activeKeys()).toEqual(['frame']);
    errors.recovered('frame');
    expect(lines.at(-1)).toMatchObject({ key: 'frame', after: 100, msg: 'recovered' });
    expect(errors.activeKeys()).toEqual([]);
  });

  it('a new message under a key is logged again', () => {
    const { log, lines } = capture();
    const errors = log(() => 0);
    errors.report('t', new Error('refused'));
    errors.report('t', new Error('refused'));
    errors.report('t', new Error('timed out'));
    expect(lines.map((l) => l.msg)).toEqual(['refused', 'timed out']);
  });
});
