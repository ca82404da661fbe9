import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer } from '../extensions/experiments/server.ts';
import { ExperimentManager } from '../extensions/experiments/manager.ts';
import { configSchema as csvConfigSchema } from '../exporters/csv/config.ts';
import { CsvExporter } from '../exporters/csv/csv.ts';
import { configSchema as promConfigSchema } from '../exporters/prometheus/config.ts';
import { PrometheusExporter } from '../exporters/prometheus/prometheus.ts';
import { configSchema } from '../receivers/kwollect/config.ts';
import { KwollectReceiver } from '../receivers/kwollect/receiver.ts';
import type { RunningSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { startSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { configSchema as wattmetreConfigSchema } from '../receivers/wattmetre/config.ts';
import { WattmetreReceiver } from '../receivers/wattmetre/receiver.ts';
import { hrTime } from '../receivers/wattmetre/state.ts';
import { formatHostPort } from '../kit/config-types.ts';
import type { MetricSink } from '../kit/component.ts';
import type { IpmiSim } from './support/ipmi-sim.ts';
import { startIpmiSim } from './support/ipmi-sim.ts';
import type { Peer } from './support/peers.ts';
import { freePort, missing, parseSamples, poll, startPeer } from './support/peers.ts';
import type { RunningPostgres } from './support/postgres.ts';
import { startPostgres } from './support/postgres.ts';
import { createTestSettings } from './support/settings.ts';

// kwollect's metrics.d tree written from its document (receivers/kwollect/testdata), run by
// the kwollect receiver against a real snmpd, two ipmi_sim BMCs on one address, a
// node_exporter with a textfile collector, and PostgreSQL holding promoted_metrics.
const TESTDATA = join(import.meta.dirname, '..', 'receivers', 'kwollect', 'testdata');
const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const GENERATOR = join(import.meta.dirname, '..', 'receivers', 'wattmetre', 'testdata', 'generator.ts');
const skip =
  missing('snmpd', 'snmpd') ||
  missing('ipmi_sim', 'openipmi') ||
  missing('ipmi-sensors', 'freeipmi-tools') ||
  missing('prometheus-node-exporter', 'prometheus-node-exporter') ||
  missing('/usr/lib/postgresql/15/bin/initdb', 'postgresql');

interface Row {
  metric: string;
  unit: string;
  device: unknown;
  attributes: Record<string, unknown>;
  value: unknown;
  time: HrTime;
}

function rows(batches: readonly ResourceMetrics[]): Row[] {
  return batches.flatMap((b) =>
    b.scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) =>
        (m.dataPoints as DataPoint<unknown>[]).map((p) => ({
          metric: m.descriptor.name,
          unit: m.descriptor.unit,
          device: p.attributes['device.id'],
          attributes: { ...p.attributes },
          value: p.value,
          time: p.endTime,
        })),
      ),
    ),
  );
}

/** The last value of a metric of a device. */
function last(batches: readonly ResourceMetrics[], metric: string, device: string): Row | undefined {
  return rows(batches)
    .filter((r) => r.metric === metric && r.device === device)
    .at(-1);
}

/** A sink that keeps every batch and hands it to the exporters too. */
function fanout(batches: ResourceMetrics[], exporters: { export: MetricSink['export'] }[]): MetricSink {
  return {
    export(batch, done) {
      batches.push(batch);
      let pending = exporters.length;
      let failed: ExportResult | undefined;
      if (pending === 0) done({ code: ExportResultCode.SUCCESS });
      for (const e of exporters)
        e.export(batch, (result) => {
          if (result.code !== ExportResultCode.SUCCESS) failed = result;
          if (--pending === 0) done(failed ?? { code: ExportResultCode.SUCCESS });
        });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

describe.skipIf(skip)('kwollect metrics.d from the document, on real peers', () => {
  let snmpd: RunningSnmpd | undefined;
  let bmc1: IpmiSim | undefined;
  let bmc2: IpmiSim | undefined;
  let exporter: Peer | undefined;
  let postgres: RunningPostgres | undefined;
  let promPort = 0;
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-kwollect-'));
  const metricsDir = join(dir, 'metrics.d');

  beforeAll(async () => {
    [snmpd, bmc1, bmc2, postgres] = await Promise.all([
      startSnmpd(),
      startIpmiSim(),
      startIpmiSim(),
      startPostgres(),
    ]);
    // PSU1 Power (record id 3) reads raw × 2 watts: 250 W on the first BMC, 84 W on the second.
    bmc1.setPowerRaw(125);
    bmc2.setPowerRaw(42);
    await postgres.query('CREATE TABLE promoted_metrics (device_id text, metric_id text)');
    cpSync(join(TESTDATA, 'textfile'), join(dir, 'textfile'), { recursive: true });
    promPort = await freePort();
    exporter = startPeer('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${String(promPort)}`,
      '--no-collector.systemd',
      `--collector.textfile.directory=${join(dir, 'textfile')}`,
    ]);
    await poll('node_exporter', 30_000, async () =>
      (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`).catch(() => undefined))?.ok === true
        ? true
        : undefined,
    );
    cpSync(join(TESTDATA, 'metrics.d'), metricsDir, { recursive: true });
    for (const f of readdirSync(metricsDir)) {
      const text = readFileSync(join(metricsDir, f), 'utf8')
        .replaceAll('@SNMP_PORT@', String(snmpd.port))
        .replaceAll('@IPMI1_PORT@', String(bmc1.port))
        .replaceAll('@IPMI2_PORT@', String(bmc2.port))
        .replaceAll('@PROM_PORT@', String(promPort));
      writeFileSync(join(metricsDir, f), text);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([snmpd?.stop(), exporter?.stop(), postgres?.stop()]);
    bmc1?.stop();
    bmc2?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('collects every form with its device, labels, scale and name, into CSV and Prometheus; optional metrics follow promoted_metrics and the control API', async () => {
    const batches: ResourceMetrics[] = [];
    const csvPath = join(dir, 'kwollect.csv');
    const csv = new CsvExporter(
      createTestSettings('csv', 'exporter'),
      csvConfigSchema.parse({ path: csvPath, flush_interval: 0 }),
    );
    const prometheus = new PrometheusExporter(
      createTestSettings('prometheus', 'exporter'),
      promConfigSchema.parse({ endpoint: '127.0.0.1:0' }),
    );
    await csv.start();
    await prometheus.start();
    const receiver = new KwollectReceiver(
      createTestSettings('kwollect', 'receiver'),
      configSchema.parse({
        metrics_dir: metricsDir,
        db_host: postgres?.host,
        db_port: postgres?.port,
        db_name: 'postgres',
        db_user: 'postgres',
        log_level: 'warning',
        promoted_metrics_interval: '300ms',
        ipmi_workarounds: ['opensesspriv'],
      }),
    );
    const manager = new ExperimentManager(
      join(dir, 'experiments'),
      createTestSettings('experiments', 'receiver').logger,
      new Map([['kwollect', receiver]]),
      [{ id: 'metrics', receivers: ['kwollect'] }],
    );
    const control = new ControlServer(manager, 'secret-token', createTestSettings('x', 'receiver').logger);
    await control.listen({ host: '127.0.0.1', port: 0 });
    const api = (method: string, body?: unknown): Promise<Response> =>
      fetch(`http://${formatHostPort(control.address()!)}/receivers/kwollect/promoted_metrics`, {
        method,
        headers: { authorization: 'Bearer secret-token', 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    await receiver.start(fanout(batches, [csv, prometheus]));
    try {
      const expected = [
        ['idrac_power_watth_total', 'node-1'],
        ['idrac_power_watt', 'node-1'],
        ['bmc_power_watt', 'node-1'],
        ['bmc_power_watt', 'node-2'],
        ['pdu_power_watt', 'pdu-1'],
        ['node_memory_MemTotal_bytes', 'node-1'],
        ['node_load15', 'node-2'],
        ['lab_jobs_total', 'node-3'],
        ['lab_request_duration_seconds', 'node-3'],
        ['my_metric', 'node-3'],
        ['lab_request_duration_seconds', 'node-4'],
        ['lab_rpc_seconds_count', 'node-4'],
      ] as const;
      await poll('every metric of the tree', 60_000, () =>
        Promise.resolve(expected.every(([m, d]) => last(batches, m, d) !== undefined) ? true : undefined),
      ).catch((error: unknown) => {
        const seen = new Set(rows(batches).map((r) => `${r.metric}@${String(r.device)}`));
        throw new Error(
          `${(error as Error).message}; missing: ${expected
            .filter(([m, d]) => !seen.has(`${m}@${d}`))
            .map(([m, d]) => `${m}@${d}`)
            .join(', ')}`,
        );
      });

      // SNMP, as the document's node-1 file has it: a Counter64 and an integer, names as written.
      expect(last(batches, 'idrac_power_watth_total', 'node-1')).toMatchObject({
        value: 9_876_543_210_123,
        unit: '',
        attributes: { 'device.id': 'node-1' },
      });
      expect(last(batches, 'idrac_power_watt', 'node-1')?.value).toBe(4321);
      // Two BMCs on 127.0.0.1, each device its own value (ipmi_sim polls its power file each second).
      await poll("the second BMC's own power", 30_000, () =>
        Promise.resolve(last(batches, 'bmc_power_watt', 'node-2')?.value === 84 ? true : undefined),
      );
      expect(last(batches, 'bmc_power_watt', 'node-1')?.value).toBe(250);
      expect(last(batches, 'bmc_power_watt', 'node-2')?.value).toBe(84);
      // 1234 W scaled to kW, the labels as written (_device_alias kept under its name).
      expect(last(batches, 'pdu_power_watt', 'pdu-1')).toMatchObject({
        value: 1.234,
        unit: '',
        attributes: { 'device.id': 'pdu-1', _device_alias: 'node-2', outlet: '7' },
      });
      // Prometheus: one metric, several separated by "-", all of them.
      const direct = parseSamples(await (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`)).text());
      expect(last(batches, 'node_memory_MemTotal_bytes', 'node-1')?.value).toBe(
        direct.find((s) => s.name === 'node_memory_MemTotal_bytes')?.value,
      );
      for (const load of ['node_load1', 'node_load5', 'node_load15'])
        expect(typeof last(batches, load, 'node-2')?.value).toBe('number');
      expect(
        rows(batches).some((r) => r.device === 'node-2' && r.metric === 'node_memory_MemTotal_bytes'),
      ).toBe(false);
      expect(rows(batches).filter((r) => r.device === 'node-3').length).toBeGreaterThan(500);
      expect(last(batches, 'lab_jobs_total', 'node-3')?.value).toBe(7);
      expect(last(batches, 'lab_request_duration_seconds', 'node-3')?.value).toEqual({
        buckets: { boundaries: [0.1, 0.5], counts: [3, 2, 1] },
        count: 6,
        sum: 2.75,
      });
      // kwollect_custom: the metric is _metric_id, at _timestamp.
      expect(last(batches, 'my_metric', 'node-3')).toMatchObject({
        value: 42,
        time: [1606389005, 123_400_000],
        attributes: { 'device.id': 'node-3' },
      });
      expect(rows(batches).some((r) => r.metric === 'kwollect_custom')).toBe(false);
      // Seconds scaled to milliseconds: bounds and sums scaled, counts not.
      expect(last(batches, 'lab_request_duration_seconds', 'node-4')?.value).toEqual({
        buckets: { boundaries: [100, 500], counts: [3, 2, 1] },
        count: 6,
        sum: 2750,
      });
      expect(last(batches, 'lab_rpc_seconds', 'node-4')?.value).toBe(250);
      expect(last(batches, 'lab_rpc_seconds_sum', 'node-4')?.value).toBe(4500);
      expect(last(batches, 'lab_rpc_seconds_count', 'node-4')?.value).toBe(9);

      // The histogram of the all-metrics URL reaches CSV, with every other row.
      await csv.forceFlush();
      const records = parseCsv<Record<string, string>>(readFileSync(csvPath, 'utf8'), { columns: true });
      const node3 = records.filter(
        (r) => (JSON.parse(r.attributes ?? '{}') as Record<string, string>)['device.id'] === 'node-3',
      );
      expect(
        node3
          .filter((r) => r.metric?.startsWith('lab_request_duration_seconds.'))
          .slice(0, 5)
          .map((r) => [r.metric, r.type, r.value]),
      ).toEqual([
        ['lab_request_duration_seconds.bucket', 'histogram', '3'],
        ['lab_request_duration_seconds.bucket', 'histogram', '5'],
        ['lab_request_duration_seconds.bucket', 'histogram', '6'],
        ['lab_request_duration_seconds.sum', 'histogram', '2.75'],
        ['lab_request_duration_seconds.count', 'histogram', '6'],
      ]);
      expect(records.some((r) => r.metric === 'pdu_power_watt' && r.value === '1.234' && r.unit === '')).toBe(
        true,
      );

      // Names reach the Prometheus exporter as written: no unit or type suffix added.
      const exposition = await (
        await fetch(`http://${formatHostPort(prometheus.address()!)}/metrics`)
      ).text();
      const names = new Set(parseSamples(exposition).map((s) => s.name));
      for (const name of [
        'pdu_power_watt',
        'idrac_power_watt',
        'idrac_power_watth_total',
        'bmc_power_watt',
        'my_metric',
      ])
        expect(names, name).toContain(name);
      expect([...names].filter((n) => n.startsWith('pdu_power_watt'))).toEqual(['pdu_power_watt']);

      // On demand: off until promoted_metrics names the device (here by its _device_alias).
      expect(rows(batches).some((r) => r.metric === 'pdu_fixed_optional')).toBe(false);
      await postgres?.query(`INSERT INTO promoted_metrics VALUES ('node-2', 'pdu_fixed_.*')`);
      await poll('the promoted metric', 30_000, () =>
        Promise.resolve(last(batches, 'pdu_fixed_optional', 'pdu-1') !== undefined ? true : undefined),
      );
      expect(last(batches, 'pdu_fixed_optional', 'pdu-1')?.value).toBe(4321);
      await postgres?.query(`DELETE FROM promoted_metrics`);
      await stopsAfter(batches, 'pdu_fixed_optional');

      // The same through the control API, which also says what is being collected.
      const collecting = async (): Promise<unknown> =>
        ((await (await api('GET')).json()) as { collecting: unknown }).collecting;
      await poll('nothing optional collected', 30_000, async () =>
        JSON.stringify(await collecting()) === '[]' ? true : undefined,
      );
      const on = await api('POST', { device_id: 'pdu-1', metric_id: 'pdu_fixed_optional' });
      expect(on.status).toBe(201);
      const before = batches.length;
      await poll('the metric switched on by the API', 30_000, () =>
        Promise.resolve(
          rows(batches.slice(before)).some((r) => r.metric === 'pdu_fixed_optional') ? true : undefined,
        ),
      );
      expect(await (await api('GET')).json()).toEqual({
        database: [],
        api: [{ device_id: 'pdu-1', metric_id: 'pdu_fixed_optional' }],
        collecting: [{ device_id: 'pdu-1', name: 'pdu_fixed_optional' }],
      });
      expect((await api('DELETE', { device_id: 'pdu-1', metric_id: 'pdu_fixed_optional' })).status).toBe(200);
      await stopsAfter(batches, 'pdu_fixed_optional');
      // Off means not read at all: its receiver is stopped.
      expect(await collecting()).toEqual([]);
      expect((await api('POST', { device_id: 'pdu-1', metric_id: '(' })).status).toBe(400);
      expect((await api('DELETE', { device_id: 'pdu-1', metric_id: 'x' })).status).toBe(404);
      expect((await api('PUT', { device_id: 'pdu-1', metric_id: 'x' })).status).toBe(405);
      const other = await fetch(
        `http://${formatHostPort(control.address()!)}/receivers/csv/promoted_metrics`,
        {
          headers: { authorization: 'Bearer secret-token' },
        },
      );
      expect(other.status).toBe(404);
      const anonymous = await fetch(
        `http://${formatHostPort(control.address()!)}/receivers/kwollect/promoted_metrics`,
      );
      expect(anonymous.status).toBe(401);
    } finally {
      await receiver.shutdown();
      await control.close();
      await manager.shutdown();
      await csv.shutdown();
      await prometheus.shutdown();
    }
  }, 180_000);

  it("inframeter validate and run take the document's node-1 file (5 s beside the 10 s default, a BMC) as it is", async () => {
    const node1 = join(dir, 'node-1.d');
    mkdirSync(node1);
    cpSync(join(metricsDir, 'node-1.yaml'), join(node1, 'node-1.yaml'));
    const csvPath = join(dir, 'run.csv');
    const config = join(dir, 'run.yaml');
    writeFileSync(
      config,
      [
        'receivers:',
        '  kwollect:',
        `    metrics_dir: ${node1}`,
        '    ipmi_workarounds: [opensesspriv]',
        'exporters:',
        `  csv: { path: ${csvPath} }`,
        'service:',
        '  pipelines:',
        '    metrics: { receivers: [kwollect], exporters: [csv] }',
        '',
      ].join('\n'),
    );
    const validate = spawnSync(process.execPath, [MAIN, 'validate', '--config', config], {
      encoding: 'utf8',
    });
    expect(validate.stderr).toBe('');
    expect(validate.status).toBe(0);
    const child = spawn(process.execPath, [MAIN, 'run', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const values = (): Map<string, string> => {
      try {
        const records = parseCsv<Record<string, string>>(readFileSync(csvPath, 'utf8'), { columns: true });
        return new Map(records.map((r) => [`${r.metric ?? ''} ${r.attributes ?? ''}`, r.value ?? '']));
      } catch {
        return new Map();
      }
    };
    await poll('the three metrics of node-1 in the CSV', 60_000, () =>
      Promise.resolve(values().size >= 3 || child.exitCode !== null ? true : undefined),
    );
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(Object.fromEntries(values())).toEqual({
      'idrac_power_watth_total {"device.id":"node-1"}': '9876543210123',
      'idrac_power_watt {"device.id":"node-1"}': '4321',
      'bmc_power_watt {"device.id":"node-1"}': '250',
    });
  }, 90_000);

  it("reads a wattmetre stream with kwollector-wattmetre's mapping_file_path", async () => {
    const mapping = join(dir, 'wattmetre-mapping.yaml');
    cpSync(join(TESTDATA, 'wattmetre-mapping.yaml'), mapping);
    const batches: ResourceMetrics[] = [];
    const receiver = new WattmetreReceiver(
      createTestSettings('wattmetre', 'receiver'),
      wattmetreConfigSchema.parse({
        // 50 frames at 50 Hz, 3 ports: port p of frame i draws i + p / 100 W.
        source: { command: [process.execPath, GENERATOR, '50', '50', '1795000000', '0', '3'] },
        wattmetre_id: 'wattmetre1',
        mapping_file_path: mapping,
        flush_interval: '100ms',
        restart_delay: '60s',
      }),
    );
    await receiver.start(fanout(batches, []));
    try {
      await poll('50 frames', 30_000, () =>
        Promise.resolve(
          rows(batches).filter((r) => r.metric === 'hw.power' && r.attributes['hw.id'] === 'wattmetre1-port2')
            .length >= 50
            ? true
            : undefined,
        ),
      );
      const power = rows(batches).filter((r) => r.metric === 'hw.power');
      const of = (port: string) => power.filter((r) => r.attributes['hw.id'] === port).slice(0, 50);
      expect(of('wattmetre1-port0').map((r) => [r.device, r.value])).toEqual(
        Array.from({ length: 50 }, (_, i) => ['node-1', i]),
      );
      expect(of('wattmetre1-port2').map((r) => [r.device, r.value, r.time])).toEqual(
        Array.from({ length: 50 }, (_, i) => ['node-2', i + 0.02, hr(1_795_000_000 + i / 50)]),
      );
    } finally {
      await receiver.shutdown();
    }
    // kwollector-wattmetre's file has `mapping_file_path: ''`: no mapping.
    expect(
      wattmetreConfigSchema.parse({
        source: { stdin: true },
        wattmetre_id: 'wattmetre',
        mapping_file_path: '',
      }).mapping_file_path,
    ).toBe('');
  }, 60_000);
});

/** The generator's timestamp of a frame (printed with 3 decimals) as the receiver reads it. */
function hr(seconds: number): HrTime {
  return hrTime(Number(seconds.toFixed(3)));
}

/** Waits until three batches carrying `pdu_power_watt` (same receiver) follow the last point of `metric`. */
async function stopsAfter(batches: readonly ResourceMetrics[], metric: string): Promise<void> {
  await poll(`${metric} to stop`, 30_000, () => {
    let lastWith = -1;
    batches.forEach((b, i) => {
      if (rows([b]).some((r) => r.metric === metric)) lastWith = i;
    });
    const after = batches
      .slice(lastWith + 1)
      .filter((b) => rows([b]).some((r) => r.metric === 'pdu_power_watt'));
    return Promise.resolve(after.length >= 3 ? true : undefined);
  });
}
