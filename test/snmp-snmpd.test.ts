import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../kit/errors.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { createNetSnmpClient } from '../receivers/snmp/client.ts';
import { configSchema } from '../receivers/snmp/config.ts';
import { SnmpError } from '../receivers/snmp/errors.ts';
import { SnmpScraper } from '../receivers/snmp/scraper.ts';
import type { GoldenMetric } from '../receivers/snmp/testdata/golden.ts';
import { toGolden, valueOf } from '../receivers/snmp/testdata/golden.ts';
import { LAB_MISSING, labConfig } from '../receivers/snmp/testdata/lab.ts';
import type { RunningSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { hasSnmpd, startSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { poll } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

/**
 * The snmp receiver against a real agent: Debian's snmpd on a free loopback port with the lab
 * configuration (receivers/snmp/testdata/snmpd/), polled through net-snmp.
 */
const skip = !hasSnmpd() && process.env.CI === undefined;
if (skip) console.warn('test/snmp-snmpd.test.ts skipped: install the Debian packages `snmpd snmp` to run it');

function createRunner(config: Record<string, unknown>): ScrapeRunner {
  const scraper = new SnmpScraper({ config: configSchema.parse(config), client: createNetSnmpClient() });
  return new ScrapeRunner(scraper, createTestSettings('snmp', 'receiver'));
}

async function scrape(
  runner: ScrapeRunner,
): Promise<{ metrics: GoldenMetric[]; errors: Map<string, Error>; ms: number }> {
  const started = performance.now();
  const { batch, report } = await runner.run(10_000);
  return { metrics: toGolden(batch), errors: new Map(report.errors), ms: performance.now() - started };
}

/** Sends a few datagrams over the loopback interface, so that its counters move. */
async function loopbackTraffic(): Promise<void> {
  const socket = createSocket('udp4');
  for (let i = 0; i < 20; i++)
    await new Promise<void>((resolve) => {
      socket.send(Buffer.alloc(512), 9, '127.0.0.1', () => {
        resolve();
      });
    });
  socket.close();
}

/**
 * A receiver whose targets are due again 5 s after a scrape (tests that scrape again poll). The
 * timeouts are long: on a busy machine snmpd may take seconds to answer, and no test here waits
 * for a healthy target's timeout.
 */
function quick(port: number, targets: Record<string, unknown>[] = [{}]): Record<string, unknown> {
  return {
    ...labConfig(
      port,
      targets.map((target) => ({ timeout: '4s', ...target })),
    ),
    collection_interval: '5s',
    timeout: '5s',
  };
}

describe.skipIf(skip)('snmp receiver against Debian snmpd', () => {
  let snmpd: RunningSnmpd;
  const runners: ScrapeRunner[] = [];
  const track = (runner: ScrapeRunner): ScrapeRunner => {
    runners.push(runner);
    return runner;
  };

  beforeAll(async () => {
    // SHA-2 and AES-256 users beside the testbed's labuser (SHA-1, AES-128).
    snmpd = await startSnmpd({
      extraConfig: [
        'createUser lab256b SHA-256 "labauthpass" AES256 "labprivpass"',
        'createUser lab512r SHA-512 "labauthpass" AES256C "labprivpass"',
        'createUser lab224 SHA-224 "labauthpass"',
        'rouser lab256b priv',
        'rouser lab512r priv',
        'rouser lab224 auth',
      ].join('\n'),
    });
  });

  afterAll(async () => {
    for (const runner of runners) await runner.shutdown();
    await snmpd.stop();
  });

  it('reads the fixed scalars, the Counter64 exactly, and counts the missing OID without losing the rest (v2c)', async () => {
    const { metrics, errors } = await scrape(track(createRunner(quick(snmpd.port))));
    const device = { 'snmp.target': 'lab', 'device.id': 'lab' };
    expect(valueOf(metrics, 'lab.fixed', { ...device, 'lab.sys_name': 'lab-snmpd' })).toBe(4321);
    expect(valueOf(metrics, 'hw.energy', { ...device, 'hw.id': 'outlet1' })).toBe(9_876_543_210_123);
    expect(valueOf(metrics, 'hw.power', { 'hw.id': 'outlet1' })).toBe(1234);
    expect(metrics.map((m) => m.name)).not.toContain('lab.missing');
    expect(
      valueOf(metrics, 'inframeter.snmp.varbind.errors', {
        'snmp.oid': LAB_MISSING,
        'error.type': 'no_such_object',
      }),
    ).toBe(1);
    expect(errors.get('lab')?.message).toBe(`lab: no value for ${LAB_MISSING} (no_such_object)`);
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', device)).toBe(1);
  });

  it('reads back a value written to the file pass.sh serves', async () => {
    const runner = track(createRunner(quick(snmpd.port)));
    writeFileSync(snmpd.pduPowerFile, '777\n');
    expect(valueOf((await scrape(runner)).metrics, 'hw.power', { 'hw.id': 'outlet1' })).toBe(777);
    writeFileSync(snmpd.pduPowerFile, '2048\n');
    // Scraped again until the new value is served.
    const power = await poll('hw.power 2048', 30_000, async () => {
      const value = valueOf((await scrape(runner)).metrics, 'hw.power', { 'hw.id': 'outlet1' });
      return value === 2048 ? value : undefined;
    });
    expect(power).toBe(2048);
  });

  it('walks the real IF-MIB: lo with its ifDescr, octets growing between scrapes', async () => {
    const runner = track(createRunner(quick(snmpd.port, [{ profiles: ['if_mib'] }])));
    const lo = {
      'hw.name': 'lo',
      'network.interface.name': 'lo',
      'hw.type': 'network',
      'network.io.direction': 'receive',
    };
    const first = await scrape(runner);
    const before = valueOf(first.metrics, 'hw.network.io', lo);
    expect(before).toBeGreaterThan(0);
    expect(valueOf(first.metrics, 'hw.network.up', { 'hw.name': 'lo' })).toBe(1);
    await loopbackTraffic();
    // snmpd caches interface statistics for a few seconds (net-snmp's if-mib data access):
    // scraped again until it serves the new counts.
    const after = await poll('lo octets grown by the traffic', 30_000, async () => {
      const value = valueOf((await scrape(runner)).metrics, 'hw.network.io', lo);
      return value !== undefined && value >= (before ?? 0) + 20 * 512 ? value : undefined;
    });
    expect(after).toBeGreaterThanOrEqual((before ?? 0) + 20 * 512);
    expect(first.errors.size).toBe(0);
  });

  it('reads the same values over SNMPv3 authPriv (labuser, SHA, AES) and over SNMPv1', async () => {
    const { metrics, errors } = await scrape(
      track(
        createRunner(
          quick(snmpd.port, [{ auth: 'lab_v3' }, { auth: { version: 'v1', community: 'public' } }]),
        ),
      ),
    );
    for (const target of ['lab', 'lab1']) {
      expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': target, 'lab.sys_name': 'lab-snmpd' })).toBe(
        4321,
      );
      expect(valueOf(metrics, 'hw.network.io', { 'snmp.target': target, 'hw.name': 'lo' })).toBeGreaterThan(
        0,
      );
    }
    expect(valueOf(metrics, 'hw.energy', { 'snmp.target': 'lab' })).toBe(9_876_543_210_123);
    expect([...errors.keys()].sort()).toEqual(['lab', 'lab1']);
    expect(errors.get('lab')?.message).toContain(LAB_MISSING);
  });

  it('speaks SHA-2 with AES-256 (Blumenthal and Reeder keys) and authNoPriv', async () => {
    const v3 = (user: string, extra: Record<string, unknown>): Record<string, unknown> => ({
      auth: { version: 'v3', user, auth_password: 'labauthpass', ...extra },
      profiles: ['lab'],
    });
    const { metrics, errors } = await scrape(
      track(
        createRunner(
          quick(snmpd.port, [
            v3('lab256b', {
              auth_protocol: 'sha256',
              priv_protocol: 'aes256b',
              priv_password: 'labprivpass',
            }),
            v3('lab512r', {
              auth_protocol: 'sha512',
              priv_protocol: 'aes256r',
              priv_password: 'labprivpass',
            }),
            v3('lab224', { auth_protocol: 'sha224', security_level: 'auth_no_priv' }),
          ]),
        ),
      ),
    );
    for (const target of ['lab', 'lab1', 'lab2'])
      expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': target })).toBe(4321);
    expect([...errors.values()].map((e) => e.constructor.name)).toEqual([
      'ScrapeError',
      'ScrapeError',
      'ScrapeError',
    ]);
  });

  it('reports a wrong community as that target’s timeout, within its timeout, while the other target is read', async () => {
    const runner = track(
      createRunner(
        quick(snmpd.port, [
          { name: 'good' },
          { name: 'bad', auth: { version: 'v2c', community: 'wrong' }, timeout: '300ms', retries: 0 },
        ]),
      ),
    );
    const { metrics, errors, ms } = await scrape(runner);
    expect(errors.get('bad')).toBeInstanceOf(TimeoutError);
    expect(errors.get('bad')?.message).toBe(`SNMP request to 127.0.0.1:${snmpd.port} timed out after 300 ms`);
    expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': 'good' })).toBe(4321);
    expect(valueOf(metrics, 'lab.fixed', { 'snmp.target': 'bad' })).toBeUndefined();
    expect(valueOf(metrics, 'inframeter.snmp.poll.success', { 'snmp.target': 'bad' })).toBe(0);
    // Its own 300 ms, not the good target's 4 s nor the scrape's 5 s.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(4_000);
  });

  it('reports a wrong SNMPv3 password as an authentication failure', async () => {
    const { errors, metrics } = await scrape(
      track(
        createRunner(
          quick(snmpd.port, [
            {
              auth: {
                version: 'v3',
                user: 'labuser',
                auth_password: 'not-the-password',
                priv_password: 'labprivpass',
              },
            },
          ]),
        ),
      ),
    );
    const error = errors.get('lab');
    expect(error).toBeInstanceOf(SnmpError);
    expect(error).toMatchObject({ code: 'ERR_SNMP_AUTH' });
    expect(error?.message).toBe(
      `127.0.0.1:${snmpd.port}: Wrong Digest (incorrect password, community or key)`,
    );
    expect(valueOf(metrics, 'inframeter.snmp.poll.errors', { 'error.type': 'authentication' })).toBe(1);
  });
});
