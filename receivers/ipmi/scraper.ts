import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScrapeReport, Scraper } from '../../kit/component.ts';
import type { ParseError } from '../../kit/errors.ts';
import { ScrapeError } from '../../kit/errors.ts';
import type { MetricObserver } from '../../kit/snapshot-set.ts';
import type { SnapshotProducer } from '../../kit/snapshot-producer.ts';
import { SnapshotSet } from '../../kit/snapshot-set.ts';
import type { IpmiToolRunner } from './client.ts';
import { spawnRunner } from './client.ts';
import type { IpmiConfig, IpmiTarget } from './config.ts';
import { ipmiMetadata } from './metadata.ts';
import type { DcmiPower, SensorReading } from './parse/sensors.ts';
import { parseDcmiPower, parseSensors } from './parse/sensors.ts';

const STATES = { Nominal: 'ok', Warning: 'degraded', Critical: 'failed' } as const;
const HOST_POWER = /system|total|host|pwr consumption|platform/i;

/**
 * A value as FreeIPMI's config file reads it back exactly (its `conffile` parser): inside
 * double quotes whitespace is kept, and a backslash, `#` and `"` are each escaped with a
 * backslash (an unescaped `#` starts a comment even inside quotes; a line ending in a
 * backslash continues on the next, which the closing quote prevents). Line breaks cannot be
 * written: the config refuses them.
 */
export function freeipmiQuoted(value: string): string {
  return `"${value.replace(/[\\#"]/g, (c) => `\\${c}`)}"`;
}

/** Which metric a reading goes to, and its hw.type. */
export function classify(reading: SensorReading): { metric: string; type: string } {
  const units = reading.units.toLowerCase();
  if (units === 'degrees c') return { metric: 'hw.temperature', type: 'temperature' };
  if (units === 'rpm') return { metric: 'hw.fan.speed', type: 'fan' };
  if (units === 'volts') return { metric: 'hw.voltage', type: 'voltage' };
  if (units === 'watts')
    return HOST_POWER.test(reading.name)
      ? { metric: 'hw.host.power', type: 'power_supply' }
      : { metric: 'hw.power', type: 'power_supply' };
  if (units === 'amps') return { metric: 'inframeter.ipmi.current', type: 'current' };
  return { metric: 'inframeter.ipmi.sensor.value', type: 'other' };
}

interface BmcSample {
  readonly device: string;
  readonly labels: Record<string, string>;
  readonly sensors: readonly SensorReading[];
  readonly dcmi: DcmiPower | undefined;
  readonly up: boolean;
}

/** Limits how many promises run at once. */
async function limited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i];
      if (item !== undefined) results[i] = await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Reads every BMC's sensors with FreeIPMI's `ipmi-sensors` (and DCMI power when asked), at
 * most `max_concurrency` at a time, each run killed after `bmc_timeout`. A BMC that fails
 * is its own error (keyed by its device), and `inframeter.ipmi.up` says so; the others are
 * exported.
 */
export class IpmiScraper implements Scraper {
  readonly #config: IpmiConfig;
  readonly #runner: IpmiToolRunner;
  readonly #cache: string;
  /** A private directory (0700) of FreeIPMI config files (0600) holding the passwords. */
  #secrets: string | undefined;
  readonly #passwordFiles = new Map<string, string>();
  #samples: BmcSample[] = [];
  /** The metrics, observed from the last scrape's samples when the scrape runner collects. */
  readonly metricProducer: SnapshotProducer;

  constructor(config: IpmiConfig, runner: IpmiToolRunner = spawnRunner) {
    this.#config = config;
    this.metricProducer = new SnapshotSet(
      'inframeter/receiver/ipmi',
      ipmiMetadata.metrics,
      (m) => config.metrics.has(m.name),
      (s) => {
        this.#observe(s);
      },
    ).producer;
    this.#runner = runner;
    this.#cache = config.sdr_cache_directory ?? join(tmpdir(), 'inframeter-ipmi-sdr-cache');
  }

  #observe(s: MetricObserver): void {
    for (const bmc of this.#samples) {
      s.observe('inframeter.ipmi.up', bmc.up ? 1 : 0, { 'device.id': bmc.device, ...bmc.labels });
      for (const r of bmc.sensors) {
        const { metric, type } = classify(r);
        const attributes = {
          'hw.id': `${bmc.device}:${r.id}`,
          'hw.name': r.name,
          'hw.type': type,
          'ipmi.sensor.type': r.type,
          'device.id': bmc.device,
          ...bmc.labels,
        };
        if (r.value !== undefined)
          s.observe(
            metric,
            r.value,
            metric === 'inframeter.ipmi.sensor.value'
              ? { ...attributes, 'ipmi.sensor.unit': r.units }
              : attributes,
          );
        const state = STATES[r.state as keyof typeof STATES] as string | undefined;
        if (state !== undefined) {
          for (const candidate of Object.values(STATES))
            s.observe('hw.status', candidate === state ? 1 : 0, { ...attributes, 'hw.state': candidate });
        }
      }
      if (bmc.dcmi?.current !== undefined) {
        s.observe('hw.host.power', bmc.dcmi.current, {
          'hw.id': `${bmc.device}:dcmi`,
          'hw.name': 'DCMI current power',
          'hw.type': 'power_supply',
          'ipmi.sensor.type': 'DCMI',
          'device.id': bmc.device,
          ...bmc.labels,
        });
      }
    }
  }

  /**
   * The FreeIPMI config file that gives `password` to the tools (`--config-file`): never on
   * a command line, which any local user reads with `ps`, nor in the child's environment.
   */
  #passwordFile(password: string): string {
    const known = this.#passwordFiles.get(password);
    if (known !== undefined) return known;
    this.#secrets ??= mkdtempSync(join(tmpdir(), 'inframeter-ipmi-'));
    const file = join(this.#secrets, `bmc-${String(this.#passwordFiles.size)}.conf`);
    writeFileSync(file, `password ${freeipmiQuoted(password)}\n`, { mode: 0o600 });
    this.#passwordFiles.set(password, file);
    return file;
  }

  #args(target: IpmiTarget): string[] {
    const args: string[] = [];
    if (target.host !== undefined) {
      args.push('-h', target.host, '-u', target.username ?? this.#config.username ?? '');
      const password = target.password ?? this.#config.password;
      if (password !== undefined) args.push(`--config-file=${this.#passwordFile(password.reveal())}`);
      args.push('-D', target.driver ?? this.#config.driver);
      const workarounds = target.workarounds ?? this.#config.workarounds;
      if (workarounds.length > 0) args.push('-W', workarounds.join(','));
    }
    return args;
  }

  async #read(target: IpmiTarget, errors: Map<string, Error>): Promise<BmcSample> {
    const device = target.name ?? target.host ?? 'localhost';
    const base = { device, labels: target.labels };
    const timeout = this.#config.bmc_timeout;
    const sensors = await this.#runner.run(
      this.#config.ipmi_sensors_path,
      [
        ...this.#args(target),
        `--sdr-cache-directory=${this.#cache}`,
        // A BMC whose sensor list changed (a firmware update) gets its cache rebuilt.
        '--sdr-cache-recreate',
        '--quiet-cache',
        '--comma-separated-output',
        '--no-header-output',
        '--output-sensor-state',
        '--non-abbreviated-units',
      ],
      timeout,
    );
    if (sensors.timedOut) {
      errors.set(
        device,
        new ScrapeError(1, `${device}: ipmi-sensors gave no answer within ${String(timeout)} ms (killed)`),
      );
      return { ...base, sensors: [], dcmi: undefined, up: false };
    }
    if (sensors.code !== 0) {
      errors.set(
        device,
        new ScrapeError(
          1,
          `${device}: ipmi-sensors failed (exit ${String(sensors.code)}): ${sensors.stderr.trim().split('\n').pop() ?? ''}`,
        ),
      );
      return { ...base, sensors: [], dcmi: undefined, up: false };
    }
    let readings: SensorReading[];
    try {
      readings = parseSensors(sensors.stdout, `ipmi-sensors ${device}`);
    } catch (error) {
      errors.set(device, error as ParseError);
      return { ...base, sensors: [], dcmi: undefined, up: false };
    }
    let dcmi: DcmiPower | undefined;
    if (this.#config.dcmi) {
      const power = await this.#runner.run(
        this.#config.ipmi_dcmi_path,
        [...this.#args(target), '--get-system-power-statistics'],
        timeout,
      );
      try {
        if (power.timedOut)
          throw new ScrapeError(1, `ipmi-dcmi gave no answer within ${String(timeout)} ms (killed)`);
        if (power.code !== 0)
          throw new ScrapeError(
            1,
            `ipmi-dcmi failed (exit ${String(power.code)}): ${power.stderr.trim().split('\n').pop() ?? ''}`,
          );
        dcmi = parseDcmiPower(power.stdout, `ipmi-dcmi ${device}`);
      } catch (error) {
        errors.set(`${device} dcmi`, error as Error);
      }
    }
    return { ...base, sensors: readings, dcmi, up: true };
  }

  async scrape(): Promise<ScrapeReport> {
    mkdirSync(this.#cache, { recursive: true });
    const errors = new Map<string, Error>();
    this.#samples = await limited(this.#config.targets, this.#config.max_concurrency, (t) =>
      this.#read(t, errors),
    );
    return { errors };
  }

  shutdown(): Promise<void> {
    if (this.#secrets !== undefined) rmSync(this.#secrets, { recursive: true, force: true });
    this.#secrets = undefined;
    this.#passwordFiles.clear();
    return Promise.resolve();
  }
}
