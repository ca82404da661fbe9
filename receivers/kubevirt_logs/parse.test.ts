import { SeverityNumber } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { cursorFromJson, cursorToJson, selectNewLines } from './parse/cursor.ts';
import {
  formatSinceTime,
  parseKubevirtEntry,
  parseRfc3339Ns,
  parseTimestampedLog,
  severityOf,
} from './parse/log-line.ts';

describe('parseRfc3339Ns', () => {
  it.each([
    ['2026-11-30T09:12:44.412233917Z', 1_796_029_964_412_233_917n],
    ['2026-11-30T09:12:44.4Z', 1_796_029_964_400_000_000n],
    ['2026-11-30T09:12:44Z', 1_796_029_964_000_000_000n],
    ['2026-11-30T10:12:44.5+01:00', 1_796_029_964_500_000_000n],
  ])('%s → %d', (text, ns) => {
    expect(parseRfc3339Ns(text)).toBe(ns);
  });
  it.each(['', '2026-11-30 09:12:44Z', '2026-11-30T09:12:44', 'W1130', '2026-11-30T09:12:44.1234567890Z'])(
    'rejects %j',
    (text) => {
      expect(parseRfc3339Ns(text)).toBeUndefined();
    },
  );
  it('formats sinceTime as the whole second at or before the instant', () => {
    expect(formatSinceTime(1_796_029_964_999_999_999n)).toBe('2026-11-30T09:12:44Z');
  });
});

describe('parseTimestampedLog', () => {
  it('splits lines, keeps their text, counts lines without a timestamp and drops a cut last line', () => {
    const body =
      '2026-11-30T09:12:44.4Z {"level":"info"}\n' +
      'no timestamp here\n' +
      '2026-11-30T09:12:45Z \n' +
      '2026-11-30T09:12:46.1Z cut in the mid';
    const result = parseTimestampedLog(body);
    expect(result.lines.map((l) => [l.timestamp, l.text])).toEqual([
      ['2026-11-30T09:12:44.4Z', '{"level":"info"}'],
      ['2026-11-30T09:12:45Z', ''],
    ]);
    expect(result.malformed).toBe(1);
    expect(result.truncated).toBe(true);
  });
  it('reads an empty body as no line', () => {
    expect(parseTimestampedLog('')).toEqual({ lines: [], malformed: 0, truncated: false });
  });
});

describe('parseKubevirtEntry', () => {
  it('takes the KubeVirt fields of a JSON line', () => {
    expect(
      parseKubevirtEntry(
        '{"component":"virt-handler","kind":"","level":"info","msg":"Processing vmi update","name":"vm-rhel7","namespace":"default","pos":"vm.go:1815","timestamp":"2022-01-18T14:04:38.572849Z","uid":"3c2c66c9-7198-4fa1-ad69-681025882dd1"}',
      ),
    ).toEqual({
      component: 'virt-handler',
      level: 'info',
      msg: 'Processing vmi update',
      name: 'vm-rhel7',
      namespace: 'default',
      pos: 'vm.go:1815',
      timestamp: '2022-01-18T14:04:38.572849Z',
      uid: '3c2c66c9-7198-4fa1-ad69-681025882dd1',
    });
  });
  it.each(['W1130 09:12:45.003011 client_config.go:659] Neither', '{"level":', '[1,2]', ''])(
    'reads %j as plain text',
    (text) => {
      expect(parseKubevirtEntry(text)).toBeUndefined();
    },
  );
  it('maps levels to severity numbers', () => {
    expect(['debug', 'info', 'warning', 'error', 'fatal', 'bogus'].map(severityOf)).toEqual([
      SeverityNumber.DEBUG,
      SeverityNumber.INFO,
      SeverityNumber.WARN,
      SeverityNumber.ERROR,
      SeverityNumber.FATAL,
      undefined,
    ]);
  });
});

describe('selectNewLines', () => {
  const line = (timeNs: bigint, text: string) => ({ timestamp: '', timeNs, text });
  it('drops lines older than the cursor and those already seen at its instant, keeps the rest', () => {
    const cursor = { timeNs: 20n, seen: ['b'] };
    const { fresh, cursor: next } = selectNewLines(
      [line(10n, 'a'), line(20n, 'b'), line(20n, 'c'), line(30n, 'd'), line(30n, 'e')],
      cursor,
    );
    expect(fresh.map((l) => l.text)).toEqual(['c', 'd', 'e']);
    expect(next).toEqual({ timeNs: 30n, seen: ['d', 'e'] });
  });
  it('keeps the seen lines of an instant that had new ones', () => {
    const { cursor } = selectNewLines([line(20n, 'b'), line(20n, 'c')], { timeNs: 20n, seen: ['b'] });
    expect(cursor).toEqual({ timeNs: 20n, seen: ['b', 'c'] });
  });
  it('round-trips through the state file and refuses a malformed entry', () => {
    const cursor = { timeNs: 1_796_029_964_412_233_917n, seen: ['x'] };
    expect(cursorFromJson(JSON.parse(JSON.stringify(cursorToJson(cursor))))).toEqual(cursor);
    expect(cursorFromJson({ time_ns: 12, seen: [] })).toBeUndefined();
    expect(cursorFromJson({ time_ns: '12', seen: [1] })).toBeUndefined();
  });
});
