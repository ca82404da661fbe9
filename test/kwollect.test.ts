import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../receivers/kwollect/config.ts';
import { KwollectReceiver } from '../receivers/kwollect/receiver.ts';
import type { RunningSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { startSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import type { IpmiSim } from './support/ipmi-sim.ts';
import { startIpmiSim } from './support/ipmi-sim.ts';
import type { Peer } from './support/peers.ts';
import { freePort, missing, parseSamples, poll, startPeer } from './support/peers.ts';
import { createTestSettings } from './support/settings.ts';

// A kwollect metrics.d directory, as a site has it, pointing at a real snmpd, a real
// ipmi_sim BMC and a real node_exporter; run by the kwollect receiver.
const FIXTURES = join(
  import.meta.dirname,
  '..',
  'receivers',
  'kwollect',
  'testdata',
  'fixtures',
  'metrics.d',
);
const skip =
  missing('snmpd', 'snmpd') ||
  missing('ipmi_sim', 'openipmi') ||
  missing('ipmi-sensors', 'freeipmi-tools') ||
  missing('prometheus-node-exporter', 'prometheus-node-exporter');

type Row = { metric: string; device: unknown; attributes: Record<string, unknown>; value: number };
function rows(batches: readonly ResourceMetrics[]): Row[] {
  return batches.flatMap((b) =>
    b.scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) =>
        (m.dataPoints as DataPoint<number>[]).map((p) => ({
          metric: m.descriptor.name,
          device: p.attributes['device.id'],
          attributes: { ...p.attributes },
          value: p.value,
        })),
      ),
    ),
  );
}

describe.skipIf(skip)('kwollect metrics.d on snmpd, ipmi_sim and node_exporter', () => {
  let snmpd: RunningSnmpd | undefined;
  let bmc: IpmiSim | undefined;
  let exporter: Peer | undefined;
  let promPort = 0;
  let dir = '';

  beforeAll(async () => {
    snmpd = await startSnmpd();
    bmc = await startIpmiSim();
    promPort = await freePort();
    exporter = startPeer('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${String(promPort)}`,
      '--no-collector.systemd',
    ]);
    await poll('node_exporter', 15_000, async () =>
      (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`)).ok ? true : undefined,
    );
    dir = mkdtempSync(join(tmpdir(), 'inframeter-kwollect-'));
    cpSync(FIXTURES, dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8')
        .replaceAll('@SNMP_PORT@', String(snmpd.port))
        .replaceAll('@IPMI_PORT@', String(bmc.port))
        .replaceAll('@PROM_PORT@', String(promPort));
      writeFileSync(join(dir, f), text);
    }
  }, 60_000);

  afterAll(async () => {
    await snmpd?.stop();
    bmc?.stop();
    await exporter?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('collects every metric with its device, labels and scale; optional ones only when switched on', async () => {
    const batches: ResourceMetrics[] = [];
    const receiver = new KwollectReceiver(
      createTestSettings('kwollect', 'receiver'),
      configSchema.parse({
        metrics_dir: dir,
        control_endpoint: '127.0.0.1:0',
        ipmi_workarounds: ['opensesspriv'],
      }),
    );
    await receiver.start({
      export(b, done) {
        batches.push(b);
        done({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    try {
      await poll('the first round of every protocol', 20_000, () => {
        const names = new Set(rows(batches).map((r) => r.metric));
        return Promise.resolve(
          names.has('pdu_outlet_power') &&
            names.has('bmc_inlet_temp_celsius') &&
            names.has('node_memory_MemTotal_bytes')
            ? true
            : undefined,
        );
      }).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}; collected: ${[...new Set(rows(batches).map((r) => r.metric))].join(', ')}`,
        );
      });
      const r = rows(batches);
      // pass.sh serves 1234 at this OID; scale_factor 0.5.
      expect(r.find((x) => x.metric === 'pdu_outlet_power')).toMatchObject({
        device: 'node-1',
        value: 617,
        attributes: { outlet: '1', _metric_origin: 'pdu' },
      });
      expect(r.find((x) => x.metric === 'bmc_inlet_temp_celsius')).toMatchObject({
        device: 'node-1',
        value: 25,
      });
      const direct = parseSamples(await (await fetch(`http://127.0.0.1:${String(promPort)}/metrics`)).text());
      expect(r.find((x) => x.metric === 'node_memory_MemTotal_bytes')?.value).toBe(
        direct.find((s) => s.name === 'node_memory_MemTotal_bytes')?.value,
      );
      expect(r.filter((x) => x.metric === 'node_cpu_seconds_total').every((x) => x.device === 'node-1')).toBe(
        true,
      );
      expect(r.filter((x) => x.metric === 'node_cpu_seconds_total').length).toBeGreaterThan(0);
      // Only the listed families, not the whole exporter.
      expect(r.some((x) => x.metric === 'node_load1')).toBe(false);
      // optional: off until switched on for node-2.
      expect(r.some((x) => x.metric === 'pdu_fixed')).toBe(false);
      const res = await fetch(`http://127.0.0.1:${String(receiver.controlPort)}/devices/node-2/optional`, {
        method: 'PUT',
        body: 'on',
      });
      expect(await res.json()).toEqual({ device: 'node-2', optional: 'on' });
      await poll('the optional metric', 10_000, () =>
        Promise.resolve(rows(batches).some((x) => x.metric === 'pdu_fixed') ? true : undefined),
      );
      expect(rows(batches).find((x) => x.metric === 'pdu_fixed')).toMatchObject({
        device: 'node-2',
        value: 4321,
      });
    } finally {
      await receiver.shutdown();
    }
  }, 60_000);
});
