import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../receivers/ipmi/config.ts';
import { IpmiScraper } from '../receivers/ipmi/scraper.ts';
import type { IpmiSim } from './support/ipmi-sim.ts';
import { startIpmiSim } from './support/ipmi-sim.ts';
import { missing, poll } from './support/peers.ts';
import { scrapeOnce } from './support/settings.ts';

// OpenIPMI's ipmi_sim with the lab BMC (testbed files), read through FreeIPMI over LAN 2.0.
const skip = missing('ipmi_sim', 'openipmi') || missing('ipmi-sensors', 'freeipmi-tools');

function value(batch: ResourceMetrics, metric: string, hwId: string): unknown {
  for (const s of batch.scopeMetrics)
    for (const m of s.metrics)
      if (m.descriptor.name === metric)
        for (const p of m.dataPoints as DataPoint<unknown>[])
          if (p.attributes['hw.id'] === hwId) return p.value;
  return undefined;
}

function upOf(batch: ResourceMetrics): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of batch.scopeMetrics)
    for (const m of s.metrics)
      if (m.descriptor.name === 'inframeter.ipmi.up')
        for (const p of m.dataPoints) out[String(p.attributes['device.id'])] = p.value;
  return out;
}

describe.skipIf(skip)('ipmi receiver against ipmi_sim', () => {
  let dir = '';
  let silent: Socket | undefined;
  let port = 0;
  let silentPort = 0;

  let bmc: IpmiSim | undefined;

  beforeAll(async () => {
    bmc = await startIpmiSim();
    port = bmc.port;
    dir = bmc.dir;
    // A BMC that never answers: a UDP socket that reads and says nothing.
    silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent?.bind(0, '127.0.0.1', resolve));
    silentPort = silent.address().port;
    // startIpmiSim waits up to 30 s for ipmi_sim to answer.
  }, 60_000);

  afterAll(() => {
    bmc?.stop();
    silent?.close();
  });

  it('reads the BMC exactly; a wrong password and a silent BMC are their own errors; nothing hangs', async () => {
    const scraper = new IpmiScraper(
      configSchema.parse({
        username: 'admin',
        password: 'password',
        workarounds: ['opensesspriv'],
        bmc_timeout: '2s',
        sdr_cache_directory: join(dir, 'sdrcache'),
        targets: [
          { host: `127.0.0.1:${String(port)}`, name: 'lab' },
          { host: `127.0.0.1:${String(port)}`, name: 'wrong-password', password: 'nope' },
          { host: `127.0.0.1:${String(silentPort)}`, name: 'silent' },
        ],
      }),
    );
    const started = Date.now();
    const { batch, errors } = await scrapeOnce(scraper);
    const elapsed = Date.now() - started;
    expect(value(batch, 'hw.temperature', 'lab:2')).toBe(25);
    expect(value(batch, 'hw.power', 'lab:3')).toBe(250);
    expect(value(batch, 'hw.voltage', 'lab:4')).toBe(12);
    expect(value(batch, 'hw.fan.speed', 'lab:5')).toBe(6000);
    expect(upOf(batch)).toEqual({ lab: 1, 'wrong-password': 0, silent: 0 });
    expect(errors.get('wrong-password')?.message).toMatch(
      /wrong-password: ipmi-sensors failed \(exit 1\): .*password invalid/,
    );
    expect(errors.get('silent')?.message).toBe('silent: ipmi-sensors gave no answer within 2000 ms (killed)');
    // Read concurrently: the silent BMC's 2 s is the whole wait.
    expect(elapsed).toBeLessThan(6000);
    const left = spawnSync('pgrep', ['-f', `127.0.0.1:${String(silentPort)}`], { encoding: 'utf8' });
    expect(left.stdout.trim()).toBe('');

    // A BMC whose sensor list changed (a firmware update) no longer matches its SDR cache:
    // the cache is rebuilt and the BMC stays up.
    const cacheDir = join(dir, 'sdrcache');
    const files = readdirSync(cacheDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const path = join(file.parentPath, file.name);
      const bytes = readFileSync(path);
      bytes.fill(0x5a, Math.floor(bytes.length / 2));
      writeFileSync(path, bytes);
    }
    const rebuilt = await scrapeOnce(
      new IpmiScraper(
        configSchema.parse({
          username: 'admin',
          password: 'password',
          workarounds: ['opensesspriv'],
          sdr_cache_directory: cacheDir,
          targets: [{ host: `127.0.0.1:${String(port)}`, name: 'lab' }],
        }),
      ),
    );
    expect([...rebuilt.errors.values()].map((e) => e.message)).toEqual([]);
    expect(upOf(rebuilt.batch)).toEqual({ lab: 1 });
    expect(value(rebuilt.batch, 'hw.temperature', 'lab:2')).toBe(25);

    // The BMC's power sensor follows the file ipmi_sim polls every second: raw × 2 watts.
    bmc?.setPowerRaw(150);
    await poll('300 W', 30_000, async () => {
      const again = await scrapeOnce(
        new IpmiScraper(
          configSchema.parse({
            username: 'admin',
            password: 'password',
            workarounds: ['opensesspriv'],
            sdr_cache_directory: join(dir, 'sdrcache'),
            targets: [{ host: `127.0.0.1:${String(port)}`, name: 'lab' }],
          }),
        ),
      );
      return value(again.batch, 'hw.power', 'lab:3') === 300 ? true : undefined;
    });
  }, 60_000);

  it('a password with #, \\, " and spaces reaches the BMC through FreeIPMI’s config file', async () => {
    // Leading space, `#`, backslashes (one at the end), a double quote, inner spaces: 12 bytes
    // (ipmi_sim keeps 16 bytes of a password; IPMI 2.0 allows 20).
    const password = ' p#w\\d "x y\\';
    expect(Buffer.byteLength(password)).toBe(12);
    // Set User Password (NetFn App, 0x47) for user 3, 20-byte form, through the BMC itself.
    const bytes = Buffer.alloc(20);
    bytes.write(password, 'latin1');
    const set = spawnSync(
      'ipmi-raw',
      [
        '-h',
        `127.0.0.1:${String(port)}`,
        '-u',
        'admin',
        '-p',
        'password',
        '-D',
        'LAN_2_0',
        '-W',
        'opensesspriv',
        '00',
        '06',
        '47',
        '83',
        '02',
        ...[...bytes].map((b) => b.toString(16).padStart(2, '0')),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(set.stdout.trim()).toBe('rcvd: 47 00');
    const config = (pw: string) =>
      configSchema.parse({
        username: 'special',
        password: pw,
        workarounds: ['opensesspriv'],
        bmc_timeout: '5s',
        sdr_cache_directory: join(dir, 'sdrcache-special'),
        targets: [{ host: `127.0.0.1:${String(port)}`, name: 'special' }],
      });
    const { batch, errors } = await scrapeOnce(new IpmiScraper(config(password)));
    expect([...errors.values()].map((e) => e.message)).toEqual([]);
    expect(upOf(batch)).toEqual({ special: 1 });
    expect(value(batch, 'hw.temperature', 'special:2')).toBe(25);
    // The same password without its trailing backslash is another password: refused.
    const wrong = await scrapeOnce(new IpmiScraper(config(password.slice(0, -1))));
    expect(upOf(wrong.batch)).toEqual({ special: 0 });
    expect(wrong.errors.get('special')?.message).toMatch(/password invalid/);
  }, 60_000);
});
