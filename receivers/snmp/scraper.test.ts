import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { ScrapeError, TimeoutError } from '../../kit/errors.ts';
import { SnmpError } from './errors.ts';
import { ScrapeRunner } from '../../kit/scrape-controller.ts';
import { clockPasses } from '../../test/support/peers.ts';
import { createTestSettings } from '../../test/support/settings.ts';
import type { SnmpConnection } from './client.ts';
import { configSchema } from './config.ts';
import { SYS_UP_TIME } from './parse/plan.ts';
import type { RawVarbind } from './parse/varbind.ts';
import { SNMP_TYPE } from './parse/varbind.ts';
import type { Clock } from './scraper.ts';
import { SnmpScraper } from './scraper.ts';
import type { FixtureSource } from './testdata/fixture-client.ts';
import { createFixtureClient, readFixture } from './testdata/fixture-client.ts';
import type { GoldenMetric } from './testdata/golden.ts';
import { readGolden, toGolden, valueOf } from './testdata/golden.ts';
import { LAB_MISSING, labConfig } from './testdata/lab.ts';

const golden = join(import.meta.dirname, 'testdata', 'golden');

/** A clock that stands still until `advance` moves it. */
function createManualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    monotonic: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

interface Harness {
  runner: ScrapeRunner;
  client: ReturnType<typeof createFixtureClient>;
  clock: Clock & { advance(ms: number): void };
}

/**
 * A scraper on fixture agents, with a clock that moves by one collection interval (10 s) after
 * each scrape unless the test drives it.
 */
function createRunner(
  config: Record<string, unknown>,
  source: FixtureSource,
  clock?: Clock & { advance(ms: number): void },
): Harness {
  const client = createFixtureClient(source);
  const ownClock = clock ?? createManualClock();
  const scraper = new SnmpScraper({ config: configSchema.parse(config), client, clock: ownClock });
  const runner = new ScrapeRunner(scraper, createTestSettings('snmp', 'receiver'));
  if (clock === undefined) {
    const run = runner.run.bind(runner);
    runner.run = async (timeoutMs) => {
      const result = await run(timeoutMs);
      ownClock.advance(10_000);
      return result;
    };
  }
  return { runner, client, clock: ownClock };
}

async function scrape(
  runner: ScrapeRunner,
): Promise<{ metrics: GoldenMetric[]; errors: Map<string, Error>; batch: ResourceMetrics }> {
  const { batch, report } = await runner.run(10_000);
  return { metrics: toGolden(batch), errors: new Map(report.errors), batch };
}

function names(metrics: GoldenMetric[]): string[] {
  return metrics.map((m) => m.name);
}

describe('snmp scraper on the recorded lab snmpd', () => {
  it('matches the golden output over two polls and counts the missing OID', async () => {
    let poll = 1;
    const { runner } = createRunner(labConfig(161), () => readFixture(`snmpd-lab-${poll}.json`));
    const first = await scrape(runner);
    poll = 2;
    const second = await scrape(runner);
    expect(readGolden(join(golden, 'lab.json'), { first: first.metrics, second: second.metrics })).toEqual({
      first: first.metrics,
      second: second.metrics,
    });

    const device = { 'snmp.target': 'lab', 'device.id': 'lab' };
    expect(valueOf(first.metrics, 'lab.fixed', { ...device, 'lab.sys_name': 'lab-snmpd' })).toBe(4321);
    expect(valueOf(first.metrics, 'hw.power', { 'hw.id': 'outlet1' })).toBe(1234);
    expect(valueOf(second.metrics, 'hw.power', { 'hw.id': 'outlet1' })).toBe(1500);
    expect(valueOf(first.metrics, 'hw.energy', { 'hw.id': 'outlet1' })).toBe(9_876_543_210_123);
    expect(names(first.metrics)).not.toContain('lab.missing');

    const lo = {
      'network.interface.name': 'lo',
      'hw.name': 'lo',
      'hw.id': 'interface1',
      'hw.type': 'network',
    };
    const rx1 = valueOf(first.metrics, 'hw.network.io', { ...lo, 'network.io.direction': 'receive' });
    const rx2 = valueOf(second.metrics, 'hw.network.io', { ...lo, 'network.io.direction': 'receive' });
    expect(rx1).toBeGreaterThan(0);
    expect(rx2).toBeGreaterThan(rx1 ?? Infinity);
    expect(valueOf(first.metrics, 'hw.network.up', { 'hw.id': 'interface1' })).toBe(1);
    expect(valueOf(first.metrics, 'hw.network.up', { 'hw.id': 'interface2' })).toBe(0);
    // ifHighSpeed 10 Mb/s of lo
    expect(valueOf(first.metrics, 'hw.network.bandwidth.limit', { 'hw.id': 'interface1' })).toBe(1_250_000);

    expect(first.errors.get('lab')).toBeInstanceOf(ScrapeError);
    expect(first.errors.get('lab')?.message).toBe(`lab: no value for ${LAB_MISSING} (no_such_object)`);
    const missing = { ...device, 'snmp.oid': LAB_MISSING, 'error.type': 'no_such_object' };
    expect(valueOf(first.metrics, 'inframeter.snmp.varbind.errors', missing)).toBe(1);
    expect(valueOf(second.metrics, 'inframeter.snmp.varbind.errors', missing)).toBe(2);
    expect(valueOf(second.metrics, 'inframeter.snmp.poll.success', device)).toBe(1);
    expect(valueOf(second.metrics, 'inframeter.snmp.poll.varbinds', device)).toBe(58);
  });

  it('keeps one session per target between scrapes and closes it at shutdown', async () => {
    const { runner, client } = createRunner(labConfig(161), () => readFixture('snmpd-lab-1.json'));
    await scrape(runner);
    await scrape(runner);
    expect(client.opened).toHaveLength(1);
    expect(client.closed).toBe(0);
    await runner.shutdown();
    expect(client.closed).toBe(1);
  });

  it('walks the IF-MIB columns side by side: one GET and a few GETBULKs per poll', async () => {
    const { runner, client } = createRunner(labConfig(161), () => readFixture('snmpd-lab-1.json'));
    await scrape(runner);
    const requests = client.agents.reduce(
      (sum, { agent }) => ({
        get: sum.get + agent.requests.get,
        getBulk: sum.getBulk + agent.requests.getBulk,
      }),
      { get: 0, getBulk: 0 },
    );
    // 13 columns of 4 rows, max-repetitions 20: 12 columns in one GETBULK, the 13th in another.
    expect(requests).toEqual({ get: 1, getBulk: 2 });
  });

  it('reads the 32-bit ifTable counters where a device has no ifXTable', async () => {
    const withoutIfX = readFixture('snmpd-lab-1.json').filter(
      (v) => !v.oid.startsWith('1.3.6.1.2.1.31.1.1.1.'),
    );
    const { runner } = createRunner(labConfig(161, [{ profiles: ['if_mib'] }]), () => withoutIfX);
    const { metrics } = await scrape(runner);
    const ifInOctets = withoutIfX.find((v) => v.oid === '1.3.6.1.2.1.2.2.1.10.4')?.value;
    expect(
      valueOf(metrics, 'hw.network.io', { 'hw.id': 'interface4', 'network.io.direction': 'receive' }),
    ).toBe(ifInOctets);
    // ifSpeed 10 000 000 b/s of lo
    expect(valueOf(metrics, 'hw.network.bandwidth.limit', { 'hw.id': 'interface1' })).toBe(1_250_000);
    expect(valueOf(metrics, 'hw.network.io', { 'hw.id': 'interface1' })).toBeDefined();
    expect(
      metrics.find((m) => m.name === 'hw.network.io')?.points[0]?.attributes['network.interface.name'],
    ).toBeUndefined();
  });

  it('reads the same values over SNMPv1, one missing OID at a time', async () => {
    const { runner } = createRunner(labConfig(161, [{ auth: { version: 'v1', community: 'public' } }]), () =>
      readFixture('snmpd-lab-1.json'),
    );
    const { metrics, errors } = await scrape(runner);
    expect(valueOf(metrics, 'lab.fixed', {})).toBe(4321);
    expect(valueOf(metrics, 'hw.network.up', { 'hw.id': 'interface4' })).toBe(1);
    expect(errors.get('lab')?.message).toContain(LAB_MISSING);
  });
});

describe('snmp scraper on the recorded PDUs', () => {
  it('apc_rpdu: scales rPDU2 power, energy and current, names outlets, skips -1', async () => {
    const { runner } = createRunner(labConfig(161, [{ name: 'pdu-a', profiles: ['apc_rpdu'] }]), () =>
      readFixture('snmpd-apc-rpdu.json'),
    );
    const { metrics, errors } = await scrape(runner);
    expect(errors.size).toBe(0);
    expect(readGolden(join(golden, 'apc-rpdu.json'), metrics)).toEqual(metrics);
    const outlet1 = { 'hw.id': 'outlet1', 'hw.type': 'pdu_outlet', 'hw.name': 'web-01' };
    expect(valueOf(metrics, 'hw.power', outlet1)).toBe(180);
    expect(valueOf(metrics, 'hw.energy', outlet1)).toBe(5321 * 360_000);
    expect(valueOf(metrics, 'inframeter.snmp.current', outlet1)).toBe(0.8);
    expect(valueOf(metrics, 'hw.power', { 'hw.id': 'outlet3' })).toBeUndefined();
    expect(valueOf(metrics, 'hw.energy', { 'hw.id': 'outlet3' })).toBe(0);
    expect(
      metrics.find((m) => m.name === 'hw.energy')?.points.find((p) => p.attributes['hw.id'] === 'outlet3')
        ?.attributes['hw.name'],
    ).toBeUndefined();
    expect(
      valueOf(metrics, 'hw.power', { 'hw.id': 'pdu1', 'hw.type': 'pdu', 'hw.name': 'rack12-pdu-a' }),
    ).toBe(430);
    expect(valueOf(metrics, 'hw.energy', { 'hw.id': 'pdu1' })).toBe(123_456 * 360_000);
    expect(valueOf(metrics, 'inframeter.snmp.current', { 'hw.id': 'phase1', 'hw.type': 'pdu_phase' })).toBe(
      2.1,
    );
  });

  it('raritan_px: applies each sensor’s decimal digits and picks sensor types from the index', async () => {
    const { runner } = createRunner(labConfig(161, [{ name: 'px3', profiles: ['raritan_px'] }]), () =>
      readFixture('snmpd-raritan-px.json'),
    );
    const { metrics, errors } = await scrape(runner);
    expect(errors.size).toBe(0);
    expect(readGolden(join(golden, 'raritan-px.json'), metrics)).toEqual(metrics);
    const outlet2 = {
      'hw.id': 'pdu1.outlet2',
      'hw.type': 'pdu_outlet',
      'hw.name': 'gpu-node-2',
      'hw.parent': 'pdu1',
    };
    expect(valueOf(metrics, 'hw.power', outlet2)).toBe(575.5);
    expect(valueOf(metrics, 'inframeter.snmp.current', outlet2)).toBe(2.5);
    expect(valueOf(metrics, 'hw.energy', outlet2)).toBe(1_200_000 * 3600);
    expect(valueOf(metrics, 'hw.power', { 'hw.id': 'pdu1.outlet1' })).toBe(281);
    expect(valueOf(metrics, 'inframeter.snmp.current', { 'hw.id': 'pdu1.outlet1' })).toBe(1.234);
    const inlet = { 'hw.id': 'pdu1.inlet1', 'hw.type': 'pdu_inlet', 'hw.name': 'mains A' };
    expect(valueOf(metrics, 'hw.power', inlet)).toBe(857);
    expect(valueOf(metrics, 'inframeter.snmp.current', inlet)).toBe(3.734);
    expect(metrics.find((m) => m.name === 'hw.power')?.points).toHaveLength(3);
  });
});

/** An agent with sysUpTime and one Counter32 whose values a test sets. */
function counterAgent(state: { uptime: number; counter: number }): readonly RawVarbind[] {
  return [
    { oid: SYS_UP_TIME, type: SNMP_TYPE.TimeTicks, value: state.uptime },
    { oid: '1.3.6.1.4.1.99999.3.1.0', type: SNMP_TYPE.Counter32, value: state.counter },
  ];
}

const counterConfig = {
  collection_interval: '10s',
  profiles: {
    counting: {
      scalars: { metrics: [{ name: 'lab.events', oid: '1.3.6.1.4.1.99999.3.1.0', instrument: 'counter' }] },
    },
  },
  targets: [
    {
      name: 'c',
      address: '127.0.0.1',
      auth: { version: 'v2c', community: 'public' },
      profiles: ['counting'],
    },
  ],
};

function counterPoint(batch: ResourceMetrics): { value: number; start: number } | undefined {
  for (const scope of batch.scopeMetrics) {
    const metric = scope.metrics.find((m) => m.descriptor.name === 'lab.events');
    const point = metric?.dataPoints[0];
    if (metric?.dataPointType === DataPointType.SUM && point !== undefined && typeof point.value === 'number')
      return { value: point.value, start: point.startTime[0] * 1e3 + point.startTime[1] / 1e6 };
  }
  return undefined;
}

describe('snmp counters', () => {
  it('adds 2^32 when a Counter32 wraps, and starts a new series when sysUpTime goes back', async () => {
    const state = { uptime: 100_000, counter: 4_294_967_000 };
    const { runner } = createRunner(counterConfig, () => counterAgent(state));
    const first = counterPoint((await scrape(runner)).batch);
    expect(first?.value).toBe(4_294_967_000);

    state.uptime += 1000;
    state.counter = 200; // went past 2^32 - 1: an increase of 496
    const wrapped = counterPoint((await scrape(runner)).batch);
    expect(wrapped?.value).toBe(2 ** 32 + 200);
    expect(wrapped?.start).toBe(first?.start);

    state.uptime += 1000;
    state.counter = 5000;
    expect(counterPoint((await scrape(runner)).batch)?.value).toBe(2 ** 32 + 5000);

    await clockPasses(5);
    state.uptime = 300; // the device rebooted
    state.counter = 40;
    const rebooted = counterPoint((await scrape(runner)).batch);
    expect(rebooted?.value).toBe(40);
    expect(rebooted?.start).toBeGreaterThan(first?.start ?? Infinity);
  });

  it('takes a large backwards step without a reboot as a reset, not a wrap', async () => {
    const state = { uptime: 100_000, counter: 1_000_000 };
    const { runner } = createRunner(counterConfig, () => counterAgent(state));
    await scrape(runner);
    state.uptime += 1000;
    state.counter = 10; // cleared: as a wrap it would mean an increase of 2^32 - 999 990
    expect(counterPoint((await scrape(runner)).batch)?.value).toBe(10);
  });
});

/** The value type of each metric of a batch, by name. */
function valueTypes(batch: ResourceMetrics): Record<string, ValueType> {
  return Object.fromEntries(
    batch.scopeMetrics.flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m.descriptor.valueType])),
  );
}

/** An agent serving OCTET STRINGs of numbers: `load` at .4.1.0, `count` at .4.2.0. */
function textAgent(load: string, count: string): readonly RawVarbind[] {
  return [
    { oid: SYS_UP_TIME, type: SNMP_TYPE.TimeTicks, value: 100 },
    { oid: '1.3.6.1.4.1.99999.4.1.0', type: SNMP_TYPE.OctetString, value: Buffer.from(load) },
    { oid: '1.3.6.1.4.1.99999.4.2.0', type: SNMP_TYPE.OctetString, value: Buffer.from(count) },
  ];
}

function textConfig(loadValueType?: 'int' | 'double'): Record<string, unknown> {
  return {
    ...counterConfig,
    profiles: {
      text: {
        scalars: {
          metrics: [
            {
              name: 'lab.load',
              oid: '1.3.6.1.4.1.99999.4.1.0',
              instrument: 'gauge',
              ...(loadValueType === undefined ? {} : { value_type: loadValueType }),
            },
            { name: 'lab.count', oid: '1.3.6.1.4.1.99999.4.2.0', instrument: 'gauge' },
          ],
        },
      },
    },
    targets: [{ ...counterConfig.targets[0], profiles: ['text'] }],
  };
}

describe('snmp value types', () => {
  it('publishes integers by type as ints and scaled or fractional values as doubles', async () => {
    const targets = [{}, { name: 'pdu-a', port: 162, profiles: ['apc_rpdu'] }];
    const config = configSchema.parse(labConfig(161, targets));
    expect(config.instruments.get('hw.network.io')?.value_type).toBe('int');
    // ifSpeed in b/s × 0.125 where ifHighSpeed is missing
    expect(config.instruments.get('hw.network.bandwidth.limit')?.value_type).toBe('double');
    // × 360 000 in apc_rpdu, decimal digits in raritan_px
    expect(config.instruments.get('hw.energy')?.value_type).toBe('double');
    const { runner } = createRunner(labConfig(161, targets), (c) =>
      readFixture(c.port === 162 ? 'snmpd-apc-rpdu.json' : 'snmpd-lab-1.json'),
    );
    const { batch } = await scrape(runner);
    expect(valueTypes(batch)).toMatchObject({
      'lab.fixed': ValueType.INT,
      'hw.network.io': ValueType.INT,
      'hw.network.packets': ValueType.INT,
      'hw.network.up': ValueType.INT,
      'hw.network.bandwidth.limit': ValueType.DOUBLE,
      'hw.energy': ValueType.DOUBLE,
      'inframeter.snmp.poll.duration': ValueType.DOUBLE,
      'inframeter.snmp.poll.success': ValueType.INT,
      'inframeter.snmp.poll.varbinds': ValueType.INT,
      'inframeter.snmp.varbind.errors': ValueType.INT,
    });
  });

  it('leaves out a fractional value of an int metric and counts it; value_type: double keeps it', async () => {
    const inferred = createRunner(textConfig(), () => textAgent('12.5', '42'));
    const first = await scrape(inferred.runner);
    expect(valueOf(first.metrics, 'lab.count', {})).toBe(42);
    expect(valueOf(first.metrics, 'lab.load', {})).toBeUndefined();
    expect(first.errors.get('c')?.message).toBe('c: no value for 1.3.6.1.4.1.99999.4.1.0 (not_an_integer)');
    expect(
      valueOf(first.metrics, 'inframeter.snmp.varbind.errors', {
        'snmp.oid': '1.3.6.1.4.1.99999.4.1.0',
        'error.type': 'not_an_integer',
      }),
    ).toBe(1);

    const typed = createRunner(textConfig('double'), () => textAgent('12.5', '42'));
    const second = await scrape(typed.runner);
    expect(second.errors.size).toBe(0);
    expect(valueOf(second.metrics, 'lab.load', {})).toBe(12.5);
    expect(valueTypes(second.batch)).toMatchObject({
      'lab.load': ValueType.DOUBLE,
      'lab.count': ValueType.INT,
    });
  });
});

function target(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    address: name,
    auth: { version: 'v2c', community: 'public' },
    profiles: ['lab'],
    retries: 0,
    ...extra,
  };
}

describe('snmp targets', () => {
  it('reports a dead target by its name and still publishes the others', async () => {
    const config = { ...labConfig(161), targets: [target('good'), target('dead', { timeout: '500ms' })] };
    const { runner } = createRunner(config, (connection: SnmpConnection) =>
      connection.address === 'dead'
        ? new TimeoutError('SNMP request to dead:161', 500)
        : readFixture('snmpd-lab-1.json'),
    );
    const { metrics, errors } = await scrape(runner);
    expect([...errors.keys()].sort()).toEqual(['dead', 'good']);
    expect(errors.get('dead')).toBeInstanceOf(TimeoutError);
    expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': 'good' })).toBe(4321);
    expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': 'dead' })).toBeUndefined();
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', { 'snmp.target': 'dead' })).toBe(0);
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', { 'snmp.target': 'good' })).toBe(1);
    expect(
      valueOf(metrics, 'inframeter.snmp.poll.errors', { 'snmp.target': 'dead', 'error.type': 'timeout' }),
    ).toBe(1);
  });

  it('polls a target with a longer interval only when it is due, publishing its last values between', async () => {
    const clock = createManualClock();
    const config = { ...labConfig(161), targets: [target('fast'), target('slow', { interval: '30s' })] };
    const { runner, client } = createRunner(config, () => readFixture('snmpd-lab-1.json'), clock);
    const polls = (address: string): number =>
      client.agents.filter((a) => a.address === address && a.kind === 'get').length;
    await scrape(runner);
    expect([polls('fast'), polls('slow')]).toEqual([1, 1]);
    clock.advance(10_000);
    const between = await scrape(runner);
    expect([polls('fast'), polls('slow')]).toEqual([2, 1]);
    expect(valueOf(between.metrics, 'lab.fixed', { 'snmp.target': 'slow' })).toBe(4321);
    clock.advance(10_000);
    await scrape(runner);
    clock.advance(10_000);
    await scrape(runner);
    expect([polls('fast'), polls('slow')]).toEqual([4, 2]);
  });

  it('polls at most max_concurrent_targets at a time', async () => {
    // The agents hold every reply until as many polls are in flight as the limit allows (or
    // as remain), then answer them together: the overlap does not depend on how fast the
    // machine is, and a scraper over its limit would show more polls in flight than that.
    const limit = 2;
    const names = ['a', 'b', 'c', 'd', 'e'];
    let active = 0;
    let peak = 0;
    let answered = 0;
    const inFlightAtRelease: number[] = [];
    let held: (() => void)[] = [];
    const config = {
      ...labConfig(161),
      max_concurrent_targets: limit,
      targets: names.map((name) => target(name)),
    };
    const client = createFixtureClient(() => readFixture('snmpd-lab-1.json'));
    const gated = {
      open(connection: SnmpConnection) {
        const session = client.open(connection);
        return {
          ...session,
          get usable() {
            return session.usable;
          },
          async get(oids: readonly string[], signal?: AbortSignal) {
            active += 1;
            peak = Math.max(peak, active);
            await new Promise<void>((resolve, reject) => {
              held.push(resolve);
              signal?.addEventListener('abort', () => {
                reject(new Error(`gate still closed with ${String(active)} poll(s) in flight`));
              });
              if (active >= Math.min(limit, names.length - answered)) {
                inFlightAtRelease.push(active);
                for (const release of held) release();
                held = [];
              }
            });
            active -= 1;
            answered += 1;
            return session.get(oids, signal);
          },
        };
      },
    };
    const scraper = new SnmpScraper({ config: configSchema.parse(config), client: gated });
    const runner = new ScrapeRunner(scraper, createTestSettings('snmp', 'receiver'));
    const { metrics, errors } = await scrape(runner);
    // Only the lab's missing OID is reported: no poll was left waiting at the gate.
    for (const name of names) expect(errors.get(name)?.message).toMatch(/no_such_object/);
    expect(peak).toBe(limit);
    expect(inFlightAtRelease).toEqual([2, 2, 1]);
    expect(metrics.find((m) => m.name === 'lab.fixed')?.points).toHaveLength(5);
  });

  it('reports a session that cannot be opened, and undecodable datagrams, against their target', async () => {
    const config = { ...labConfig(161), targets: [target('broken'), target('noisy')] };
    const client = createFixtureClient(() => readFixture('snmpd-lab-1.json'));
    const flaky = {
      open(connection: SnmpConnection) {
        if (connection.address === 'broken') throw new Error('socket: EMFILE');
        const session = client.open(connection);
        return {
          ...session,
          get usable() {
            return session.usable;
          },
          takeStrayErrors: () => [new SnmpError('malformed_response', 'noisy:161: unexpected end of input')],
        };
      },
    };
    const scraper = new SnmpScraper({ config: configSchema.parse(config), client: flaky });
    const runner = new ScrapeRunner(scraper, createTestSettings('snmp', 'receiver'));
    const { metrics, errors } = await scrape(runner);
    expect(errors.get('broken')?.message).toBe('socket: EMFILE');
    expect(
      valueOf(metrics, 'inframeter.snmp.poll.errors', { 'snmp.target': 'broken', 'error.type': 'socket' }),
    ).toBe(1);
    expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': 'noisy' })).toBe(4321);
    expect(
      valueOf(metrics, 'inframeter.snmp.poll.errors', {
        'snmp.target': 'noisy',
        'error.type': 'malformed_response',
      }),
    ).toBe(1);
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', { 'snmp.target': 'noisy' })).toBe(1);
  });
});
