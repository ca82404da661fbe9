import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../receivers/ipmi/config.ts';
import { IpmiScraper } from '../receivers/ipmi/scraper.ts';
import { missing, poll } from './support/peers.ts';
import { scrapeOnce } from './support/settings.ts';

// OpenIPMI's ipmi_sim with the lab BMC (testbed files), read through FreeIPMI over LAN 2.0.
const LOCAL_TESTBED = join(import.meta.dirname, '..', 'receivers', 'ipmi', 'testdata', 'bmc');
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
  let sim: ChildProcess | undefined;
  let silent: Socket | undefined;
  let port = 0;
  let silentPort = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-ipmi-'));
    port = 20000 + Math.floor(Math.random() * 20000);
    const source = (name: string): string => readFileSync(join(LOCAL_TESTBED, name), 'utf8');
    writeFileSync(
      join(dir, 'lan.conf'),
      source('lan.conf')
        .replace('@PORT@', String(port))
        .replace('@CONSOLE@', String(port + 1)),
    );
    writeFileSync(join(dir, 'labbmc.emu'), source('labbmc.emu').replaceAll('@DIR@', dir));
    writeFileSync(join(dir, 'power.raw'), '125\n');
    mkdirSync(join(dir, 'state', 'ipmi_sim', 'labbmc'), { recursive: true });
    mkdirSync(join(dir, 'probe'));
    const sdr = spawnSync(
      'sdrcomp',
      [
        '-8',
        '-o',
        join(dir, 'state', 'ipmi_sim', 'labbmc', 'sdr.20.main'),
        join(LOCAL_TESTBED, 'labbmc.sdrs'),
      ],
      { encoding: 'utf8' },
    );
    if (sdr.status !== 0) throw new Error(`sdrcomp: ${sdr.stderr}`);
    sim = spawn(
      'ipmi_sim',
      ['-n', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'labbmc.emu'), '-s', join(dir, 'state')],
      { stdio: 'ignore' },
    );
    // A BMC that never answers: a UDP socket that reads and says nothing.
    silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent?.bind(0, '127.0.0.1', resolve));
    silentPort = silent.address().port;
    await poll('ipmi_sim answering', 15_000, () => {
      const r = spawnSync(
        'ipmi-sensors',
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
          `--sdr-cache-directory=${join(dir, 'probe')}`,
          '--quiet-cache',
          '--comma-separated-output',
        ],
        { encoding: 'utf8', timeout: 5000 },
      );
      return Promise.resolve(r.status === 0 && r.stdout.includes('Inlet Temp') ? true : undefined);
    });
  }, 30_000);

  afterAll(() => {
    sim?.kill('SIGKILL');
    silent?.close();
    rmSync(dir, { recursive: true, force: true });
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

    // The BMC's power sensor follows the file ipmi_sim polls every second: raw × 2 watts.
    writeFileSync(join(dir, 'power.raw'), '150\n');
    await poll('300 W', 10_000, async () => {
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
});
