import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { zodProblems } from '../../service/config.ts';
import { renderMetricTable, TABLE_END, TABLE_START } from '../../kit/metadata.ts';
import { scrapeOnce } from '../../test/support/settings.ts';
import type { IpmiToolRunner } from './client.ts';
import { configSchema } from './config.ts';
import { ipmiMetadata } from './metadata.ts';
import { parseDcmiPower, parseSensors } from './parse/sensors.ts';
import { IpmiScraper } from './scraper.ts';

const here = import.meta.dirname;
const fixture = (name: string): string => readFileSync(join(here, 'testdata', 'fixtures', name), 'utf8');

describe('parsing', () => {
  it('reads the recorded ipmi_sim output', () => {
    expect(parseSensors(fixture('ipmi-sim-labbmc.txt'), 'x')).toEqual([
      {
        id: '2',
        name: 'Inlet Temp',
        type: 'Temperature',
        state: 'Nominal',
        value: 25,
        units: 'degrees C',
        event: 'OK',
      },
      {
        id: '3',
        name: 'PSU1 Power',
        type: 'Current',
        state: 'Nominal',
        value: 250,
        units: 'Watts',
        event: 'OK',
      },
      { id: '4', name: '12V', type: 'Voltage', state: 'Nominal', value: 12, units: 'Volts', event: 'OK' },
      { id: '5', name: 'FAN1', type: 'Fan', state: 'Nominal', value: 6000, units: 'RPM', event: 'OK' },
    ]);
  });

  it('names the line of garbage', () => {
    expect(() =>
      parseSensors(
        '2,Inlet Temp,Temperature,Nominal,25.00,degrees C,OK\nSDR cache corrupt\n',
        'ipmi-sensors bmc1',
      ),
    ).toThrow('ipmi-sensors bmc1:2: expected ID,Name,Type,State,Reading,Units,Event');
    expect(() => parseSensors('x,a,b,c,d,e,f\n', 's')).toThrow('s:1: sensor id "x" is not a number');
  });

  it('reads DCMI power statistics', () => {
    expect(parseDcmiPower(fixture('dcmi-power.txt'), 'd')).toEqual({
      current: 164,
      minimum: 155,
      maximum: 187,
      average: 166,
      active: true,
    });
    expect(() => parseDcmiPower('Current Power : lots\n', 'd')).toThrow(
      'current power: "lots" is not "N Watts"',
    );
  });
});

/** A runner that answers from fixtures, as if the tool had run. */
function fixtureRunner(outputs: Record<string, string>): IpmiToolRunner {
  return {
    run: (program, args) => {
      const host = args[args.indexOf('-h') + 1] ?? 'local';
      const key = `${program.endsWith('ipmi-dcmi') ? 'dcmi' : 'sensors'} ${args.includes('-h') ? host : 'local'}`;
      const stdout = outputs[key];
      return Promise.resolve(
        stdout === undefined
          ? { code: 1, stdout: '', stderr: 'ipmi-sensors: connection timeout', timedOut: false }
          : { code: 0, stdout, stderr: '', timedOut: false },
      );
    },
  };
}

describe('IpmiScraper on fixtures', () => {
  it('maps sensor types to semantic conventions, with states, DCMI and per-BMC failures', async () => {
    const config = configSchema.parse({
      targets: [{ name: 'node-1' }, { host: '10.0.0.9', username: 'admin', name: 'node-9' }],
      dcmi: true,
    });
    const scraper = new IpmiScraper(
      config,
      fixtureRunner({
        'sensors local': fixture('discrete-and-na.txt'),
        'dcmi local': fixture('dcmi-power.txt'),
      }),
    );
    const { batch, errors } = await scrapeOnce(scraper);
    expect([...errors].map(([k, e]) => [k, e.message])).toEqual([
      ['node-9', 'node-9: ipmi-sensors failed (exit 1): ipmi-sensors: connection timeout'],
    ]);
    const points = batch.scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) =>
        m.dataPoints.map((p: DataPoint<unknown>) => [
          m.descriptor.name,
          p.attributes['hw.id'] ?? p.attributes['device.id'],
          p.attributes['hw.state'] ?? '',
          p.value,
        ]),
      ),
    );
    const of = (metric: string) => points.filter((p) => p[0] === metric).map((p) => p.slice(1));
    expect(of('hw.temperature')).toEqual([['node-1:4', '', 41]]);
    expect(of('hw.host.power')).toEqual([
      ['node-1:7', '', 184],
      ['node-1:dcmi', '', 164],
    ]);
    expect(of('inframeter.ipmi.current')).toEqual([['node-1:9', '', 1.4]]);
    expect(of('inframeter.ipmi.sensor.value')).toEqual([['node-1:21', '', 40]]);
    expect(of('hw.fan.speed')).toEqual([]);
    expect(of('hw.status').filter((p) => p[2] === 1)).toEqual([
      ['node-1:4', 'ok', 1],
      ['node-1:7', 'ok', 1],
      ['node-1:9', 'degraded', 1],
      ['node-1:12', 'ok', 1],
      ['node-1:15', 'failed', 1],
      ['node-1:21', 'ok', 1],
    ]);
    expect(of('inframeter.ipmi.up')).toEqual([
      ['node-1', '', 1],
      ['node-9', '', 0],
    ]);
    // Readings are doubles; the scope is the receiver's.
    expect(
      batch.scopeMetrics.flatMap((s) => s.metrics.map((m) => [s.scope.name, m.descriptor.valueType])),
    ).toEqual(
      batch.scopeMetrics.flatMap((s) => s.metrics.map(() => ['inframeter/receiver/ipmi', ValueType.DOUBLE])),
    );
  });
});

describe('config', () => {
  it('bad-no-user.yaml names the key', () => {
    const r = configSchema.safeParse(
      parseYaml(readFileSync(join(here, 'testdata', 'config', 'bad-no-user.yaml'), 'utf8')),
    );
    expect(r.success).toBe(false);
    if (!r.success)
      expect(zodProblems(r.error, []).join('\n')).toContain(
        'targets[0].username: required for a BMC over the network',
      );
  });

  it('passwords: what IPMI allows passes, what it or FreeIPMI cannot take names its path', () => {
    const problems = (config: Record<string, unknown>): string => {
      const r = configSchema.safeParse({ username: 'u', targets: [{ host: 'bmc-1' }], ...config });
      return r.success ? '' : zodProblems(r.error, []).join('\n');
    };
    // 20 bytes (IPMI 2.0) of what the config file must escape, a leading and trailing space.
    expect(problems({ password: ' a#b\\c"d e\\f#g"h\\ij ' })).toBe('');
    expect(problems({ password: 'é'.repeat(10) })).toBe('');
    expect(problems({ password: 'x'.repeat(21) })).toContain(
      'password: at most 20 bytes (the IPMI 2.0 limit)',
    );
    expect(problems({ password: 'é'.repeat(11) })).toContain('password: at most 20 bytes');
    expect(problems({ targets: [{ host: 'bmc-1', password: 'two\nlines' }] })).toContain(
      'targets[0].password: must not contain a line break or NUL',
    );
    // IPMI 1.5 (driver LAN): 16 bytes.
    expect(problems({ driver: 'LAN', password: 'x'.repeat(16) })).toBe('');
    expect(problems({ driver: 'LAN', password: 'x'.repeat(17) })).toContain(
      'password: at most 16 bytes with driver LAN (IPMI 1.5), which targets[0] uses',
    );
    expect(
      problems({
        password: 'x'.repeat(17),
        targets: [{ host: 'bmc-1', driver: 'LAN', password: 'y'.repeat(17) }],
      }),
    ).toContain('targets[0].password: at most 16 bytes with driver LAN');
  });

  it('README metric table is current (`npm run docs` rewrites it)', () => {
    expect(readFileSync(join(here, 'README.md'), 'utf8')).toContain(
      `${TABLE_START}\n${renderMetricTable(ipmiMetadata)}\n${TABLE_END}`,
    );
  });
});
