import { describe, expect, it } from 'vitest';
import { accumulate, hasRebooted } from './parse/counter.ts';
import { compareOids, indexUnder, isOid, isUnder, normalizeOid } from './parse/oid.ts';
import { SYS_UP_TIME, fallbackColumns, planPoll } from './parse/plan.ts';
import type { OidProblem, Sample } from './parse/points.ts';
import { applyScale, evaluateProfile } from './parse/points.ts';
import { groupColumns, indexPrefix, stripIndexSuffix } from './parse/table.ts';
import type { RawVarbind } from './parse/varbind.ts';
import {
  COUNTER32_MODULUS,
  COUNTER64_MODULUS,
  SNMP_TYPE,
  decodeCounter64,
  decodeVarbind,
  toAttributeString,
  toMetricNumber,
} from './parse/varbind.ts';
import { fillIndexTemplate, profileSchema } from './profile.ts';
import { BUILTIN_PROFILES } from './profiles/builtin.ts';
import { readFixture } from './testdata/fixture-client.ts';
import { LAB_ENERGY } from './testdata/lab.ts';

const lab = readFixture('snmpd-lab-1.json');

function bytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

describe('OIDs', () => {
  it('recognises, normalises, orders and indexes numeric OIDs', () => {
    expect(isOid('.1.3.6.1.2.1.1.3.0')).toBe(true);
    expect(isOid('1.3')).toBe(true);
    expect(isOid('sysUpTime.0')).toBe(false);
    expect(isOid('1')).toBe(false);
    expect(isOid('1..3')).toBe(false);
    expect(normalizeOid('.1.3.6')).toBe('1.3.6');
    expect(isUnder('1.3.6.1.2.1.2.2.1.2', '1.3.6.1.2.1.2.2.1.2.5')).toBe(true);
    expect(isUnder('1.3.6.1.2.1.2.2.1.2', '1.3.6.1.2.1.2.2.1.20.5')).toBe(false);
    expect(isUnder('1.3.6.1.2.1.2.2.1.2', '1.3.6.1.2.1.2.2.1.2')).toBe(false);
    expect(indexUnder('1.3.6.1.4.1.13742.6.5.4.3.1.4', '1.3.6.1.4.1.13742.6.5.4.3.1.4.1.7.5')).toBe('1.7.5');
    expect(compareOids('1.3.6.1.2', '1.3.6.1.10')).toBeLessThan(0);
    expect(compareOids('1.3.6.1', '1.3.6.1.0')).toBeLessThan(0);
    expect(compareOids('1.3.6.2', '1.3.6.1.9')).toBeGreaterThan(0);
    expect(compareOids('1.3.6', '1.3.6')).toBe(0);
  });
});

describe('varbinds', () => {
  it('decodes the recorded Counter64 of pass.sh exactly', () => {
    const energy = lab.find((v) => v.oid === LAB_ENERGY);
    expect(energy?.type).toBe(SNMP_TYPE.Counter64);
    const decoded = decodeVarbind(energy as RawVarbind);
    expect(decoded).toEqual({
      ok: true,
      oid: LAB_ENERGY,
      value: { kind: 'counter64', value: 9_876_543_210_123n },
    });
  });

  it('decodes Counter64 byte strings of every length, and refuses longer ones', () => {
    expect(decodeCounter64(bytes('00'))).toBe(0n);
    expect(decodeCounter64(bytes('0650caa8'))).toBe(105_958_056n);
    expect(decodeCounter64(bytes('00ffffffffffffffff'))).toBe(COUNTER64_MODULUS - 1n);
    expect(decodeCounter64(bytes('01ffffffffffffffff'))).toBeUndefined();
    expect(decodeCounter64(bytes(''))).toBeUndefined();
  });

  it.each([
    [{ oid: '1.1', type: SNMP_TYPE.NoSuchObject, value: null }, 'no_such_object'],
    [{ oid: '1.1', type: SNMP_TYPE.NoSuchInstance, value: null }, 'no_such_instance'],
    [{ oid: '1.1', type: SNMP_TYPE.EndOfMibView, value: null }, 'end_of_mib_view'],
    [{ oid: '1.1', type: SNMP_TYPE.Integer, value: 2 ** 31 }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.Counter32, value: -1 }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.Gauge32, value: 1.5 }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.TimeTicks, value: '10' }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.Counter64, value: bytes('0102030405060708090a') }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.Counter64, value: 12 }, 'malformed'],
    [{ oid: '1.1', type: SNMP_TYPE.OctetString, value: 12 }, 'malformed'],
    [{ oid: '1.1', type: 99, value: 1 }, 'malformed'],
  ])('turns %j into %s', (raw, problem) => {
    expect(decodeVarbind(raw)).toMatchObject({ ok: false, oid: '1.1', problem });
  });

  it('reads numbers from integers, Counter64 and numeric strings only', () => {
    const number = (raw: RawVarbind): number | bigint | undefined => {
      const decoded = decodeVarbind(raw);
      return decoded.ok ? toMetricNumber(decoded.value) : undefined;
    };
    expect(number({ oid: '1', type: SNMP_TYPE.Integer, value: -40 })).toBe(-40);
    expect(number({ oid: '1', type: SNMP_TYPE.Gauge32, value: 4_294_967_295 })).toBe(4_294_967_295);
    expect(number({ oid: '1', type: SNMP_TYPE.Counter64, value: bytes('08fb8fd9828b') })).toBe(
      9_876_543_210_123n,
    );
    expect(number({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from(' 12.5 ') })).toBe(12.5);
    expect(number({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from('0.12') })).toBe(0.12);
    expect(number({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from('12 V') })).toBeUndefined();
    expect(number({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from('') })).toBeUndefined();
    expect(number({ oid: '1', type: SNMP_TYPE.OID, value: '1.3.6' })).toBeUndefined();
  });

  it('shows text as text and binary strings (a MAC address) in hex', () => {
    const text = (raw: RawVarbind): string | undefined => {
      const decoded = decodeVarbind(raw);
      return decoded.ok ? toAttributeString(decoded.value) : undefined;
    };
    const ifPhysAddress = {
      oid: '1.3.6.1.2.1.2.2.1.6.2',
      type: SNMP_TYPE.OctetString,
      value: bytes('7670c300e7ec'),
    };
    expect(text(ifPhysAddress)).toBe('76:70:c3:00:e7:ec');
    expect(text({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from('eth0\0\0') })).toBe('eth0');
    expect(text({ oid: '1', type: SNMP_TYPE.OctetString, value: Buffer.from('Prise 3 – baie A') })).toBe(
      'Prise 3 – baie A',
    );
    expect(text({ oid: '1', type: SNMP_TYPE.OctetString, value: bytes('c328') })).toBe('c3:28');
    expect(text({ oid: '1', type: SNMP_TYPE.OctetString, value: 'lo' })).toBe('lo');
    expect(text({ oid: '1', type: SNMP_TYPE.IpAddress, value: '10.0.0.5' })).toBe('10.0.0.5');
    expect(text({ oid: '1', type: SNMP_TYPE.Counter64, value: bytes('2a') })).toBe('42');
  });
});

describe('tables', () => {
  it('groups the recorded IF-MIB walk by column and index', () => {
    const ifDescr = '1.3.6.1.2.1.2.2.1.2';
    const ifName = '1.3.6.1.2.1.31.1.1.1.1';
    const columns = groupColumns([ifDescr, ifName, '1.3.6.1.2.1.99'], lab);
    const descr = columns.get(ifDescr);
    expect([...(descr?.keys() ?? [])]).toEqual(['1', '2', '3', '4']);
    const lo = descr?.get('1');
    expect(lo?.ok === true && toAttributeString(lo.value)).toBe('lo');
    expect(columns.get(ifName)?.size).toBe(4);
    expect(columns.get('1.3.6.1.2.1.99')?.size).toBe(0);
  });

  it('gives a varbind to the longest column that holds it', () => {
    const varbinds = [{ oid: '1.3.6.1.4.1.9.1.5.2', type: SNMP_TYPE.Integer, value: 1 }];
    const columns = groupColumns(['1.3.6.1.4.1.9', '1.3.6.1.4.1.9.1.5'], varbinds);
    expect([...(columns.get('1.3.6.1.4.1.9.1.5')?.keys() ?? [])]).toEqual(['2']);
    expect(columns.get('1.3.6.1.4.1.9')?.size).toBe(0);
  });

  it('cuts indexes: a prefix of N sub-identifiers, a trailing suffix', () => {
    expect(indexPrefix('1.7.5', 2)).toBe('1.7');
    expect(indexPrefix('1.7.5', 3)).toBe('1.7.5');
    expect(indexPrefix('1.7.5', 4)).toBeUndefined();
    expect(indexPrefix('5', 1)).toBe('5');
    expect(stripIndexSuffix('1.7.5', '5')).toBe('1.7');
    expect(stripIndexSuffix('1.7.15', '5')).toBeUndefined();
    expect(stripIndexSuffix('1.7.5', '7.5')).toBe('1');
    expect(stripIndexSuffix('5', '5')).toBeUndefined();
  });

  it('fills index templates', () => {
    expect(fillIndexTemplate('pdu{1}.outlet{2}', '1.7')).toBe('pdu1.outlet7');
    expect(fillIndexTemplate('interface{0}', '12')).toBe('interface12');
    expect(fillIndexTemplate('x{3}', '1.2')).toBe('x');
  });
});

describe('counters', () => {
  it('continues, wraps Counter32 and Counter64, and resets', () => {
    let state = accumulate(undefined, 4_294_967_000, COUNTER32_MODULUS, false);
    expect(state).toMatchObject({ value: 4_294_967_000, event: 'first' });
    state = accumulate(state.state, 4_294_967_200, COUNTER32_MODULUS, false);
    expect(state).toMatchObject({ value: 4_294_967_200, event: 'continued' });
    state = accumulate(state.state, 100, COUNTER32_MODULUS, false);
    expect(state).toMatchObject({ value: 2 ** 32 + 100, event: 'wrapped' });
    state = accumulate(state.state, 3_000_000_000, COUNTER32_MODULUS, false);
    state = accumulate(state.state, 5, COUNTER32_MODULUS, false);
    expect(state).toMatchObject({ value: 2 * 2 ** 32 + 5, event: 'wrapped' });
    // 5 → 4 000 000 000 is an increase, never a wrap.
    state = accumulate(state.state, 4_000_000_000, COUNTER32_MODULUS, false);
    expect(state.value).toBe(2 * 2 ** 32 + 4_000_000_000);
    // Down by 1 000: as a wrap it would be an increase of 2^32 - 1 000, so it is a reset.
    const reset = accumulate({ raw: 10_000, offset: 0 }, 9000, COUNTER32_MODULUS, false);
    expect(reset).toMatchObject({ value: 9000, event: 'reset', state: { offset: 0 } });

    const big = accumulate({ raw: COUNTER64_MODULUS - 10n, offset: 0 }, 5n, COUNTER64_MODULUS, false);
    expect(big.event).toBe('wrapped');
    expect(accumulate({ raw: 9_876_543_210_123n, offset: 0 }, 12n, COUNTER64_MODULUS, false).event).toBe(
      'reset',
    );
  });

  it('resets a counter that is not a Counter when it goes down, and after a reboot', () => {
    expect(accumulate({ raw: 500, offset: 0 }, 20, undefined, false)).toMatchObject({
      value: 20,
      event: 'reset',
    });
    expect(accumulate({ raw: 4_294_967_000, offset: 2 ** 32 }, 100, COUNTER32_MODULUS, true)).toMatchObject({
      value: 100,
      event: 'reset',
      state: { offset: 0 },
    });
  });

  it('tells a reboot from a TimeTicks wrap by the time elapsed', () => {
    expect(hasRebooted(undefined, { ticks: 5, at: 0 })).toBe(false);
    expect(hasRebooted({ ticks: 100, at: 0 }, { ticks: 1100, at: 10_000 })).toBe(false);
    expect(hasRebooted({ ticks: 500_000, at: 0 }, { ticks: 300, at: 10_000 })).toBe(true);
    // 2^32 - 500 hundredths, then 10 s later 500: the 497-day wrap.
    expect(hasRebooted({ ticks: 2 ** 32 - 500, at: 0 }, { ticks: 500, at: 10_000 })).toBe(false);
  });

  it('scales exactly where the scale is an inverse integer', () => {
    expect(applyScale(21, 0.1, 0)).toBe(2.1);
    expect(applyScale(1234, 1, 3)).toBe(1.234);
    expect(applyScale(5755, 1, 1)).toBe(575.5);
    expect(applyScale(43, 10, 0)).toBe(430);
    expect(applyScale(10, 125_000, 0)).toBe(1_250_000);
    expect(applyScale(10_000_000, 0.125, 0)).toBe(1_250_000);
    expect(applyScale(7, 2.5, 0)).toBe(17.5);
  });
});

describe('poll plans and profile evaluation', () => {
  it('plans one GET with sysUpTime first and each column once', () => {
    const ifMib = BUILTIN_PROFILES.get('if_mib');
    if (ifMib === undefined) throw new Error('no if_mib');
    const plan = planPoll([ifMib, ifMib]);
    expect(plan.scalars).toEqual([SYS_UP_TIME]);
    expect(plan.columns).toHaveLength(13);
    expect(new Set(plan.columns).size).toBe(13);
    expect(fallbackColumns([ifMib], groupColumns(plan.columns, lab))).toEqual([]);
    const withoutIfX = lab.filter((v) => !v.oid.startsWith('1.3.6.1.2.1.31.'));
    expect(fallbackColumns([ifMib], groupColumns(plan.columns, withoutIfX)).sort()).toEqual([
      '1.3.6.1.2.1.2.2.1.10',
      '1.3.6.1.2.1.2.2.1.11',
      '1.3.6.1.2.1.2.2.1.16',
      '1.3.6.1.2.1.2.2.1.17',
      '1.3.6.1.2.1.2.2.1.5',
    ]);
  });

  const column = '1.3.6.1.4.1.99999.5.1';
  const digits = '1.3.6.1.4.1.99999.5.2';
  const profile = profileSchema.parse({
    scalars: {
      attributes: [{ name: 'lab.sys_name', oid: '1.3.6.1.2.1.1.5.0' }],
      metrics: [
        {
          name: 'lab.a',
          oid: '1.3.6.1.4.1.99999.6.1.0',
          fallback_oid: '1.3.6.1.4.1.99999.6.2.0',
          instrument: 'gauge',
        },
        { name: 'lab.b', oid: '1.3.6.1.4.1.99999.6.3.0', instrument: 'gauge' },
      ],
    },
    tables: [
      {
        attributes: [{ name: 'hw.id', index: 'sensor{1}' }],
        metrics: [
          { name: 'lab.state', oid: column, index_suffix: '1', value_map: { '1': 1, '2': 0 } },
          {
            name: 'lab.level',
            oid: column,
            index_suffix: '2',
            decimal_digits_oid: digits,
            ignore_values: [-1],
          },
        ].map((m) => ({ ...m, instrument: 'gauge' })),
      },
    ],
  });

  function evaluate(
    varbinds: RawVarbind[],
    scalars: RawVarbind[],
  ): { samples: Sample[]; problems: OidProblem[] } {
    const samples: Sample[] = [];
    const problems: OidProblem[] = [];
    const data = {
      scalars: new Map(scalars.map((v) => [v.oid, decodeVarbind(v)])),
      columns: groupColumns([column, digits], varbinds),
    };
    evaluateProfile(profile, data, samples, problems);
    return { samples, problems };
  }

  it('maps states, applies decimal digits, skips unavailable and unmapped rows, reports non-numbers', () => {
    const int = (oid: string, value: number): RawVarbind => ({ oid, type: SNMP_TYPE.Integer, value });
    const { samples, problems } = evaluate(
      [
        int(`${column}.1.1`, 1),
        int(`${column}.2.1`, 3),
        int(`${column}.1.2`, 2345),
        int(`${column}.2.2`, -1),
        { oid: `${column}.3.2`, type: SNMP_TYPE.OctetString, value: Buffer.from('n/a') },
        int(`${column}.1.21`, 7),
        int(`${digits}.1.2`, 2),
        int(`${digits}.3.2`, 99),
      ],
      [
        { oid: '1.3.6.1.2.1.1.5.0', type: SNMP_TYPE.OctetString, value: Buffer.from('lab-snmpd') },
        { oid: '1.3.6.1.4.1.99999.6.1.0', type: SNMP_TYPE.NoSuchObject, value: null },
        int('1.3.6.1.4.1.99999.6.2.0', 42),
        { oid: '1.3.6.1.4.1.99999.6.3.0', type: SNMP_TYPE.NoSuchInstance, value: null },
      ],
    );
    expect(
      samples.map((s) => [s.name, s.attributes['hw.id'] ?? s.attributes['lab.sys_name'], s.raw, s.digits]),
    ).toEqual([
      ['lab.a', 'lab-snmpd', 42, 0],
      ['lab.state', 'sensor1', 1, 0],
      ['lab.level', 'sensor1', 2345, 2],
    ]);
    expect(problems).toEqual([
      { oid: '1.3.6.1.4.1.99999.6.3.0', problem: 'no_such_instance', detail: 'noSuchInstance' },
      { oid: column, problem: 'not_a_number', detail: 'octets value is not a number' },
    ]);
  });
});
