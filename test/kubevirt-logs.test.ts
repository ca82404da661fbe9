import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import type { ComponentSettings, MetricSink } from '../kit/component.ts';
import { createLogger } from '../kit/logger.ts';
import { SelfTelemetry } from '../kit/self-telemetry.ts';
import { kubevirtLogsFactory } from '../receivers/kubevirt_logs/factory.ts';
import { KubevirtLogsReceiver } from '../receivers/kubevirt_logs/receiver.ts';
import { startLogApiServer } from './support/kubevirt-log-api.ts';
import type { LogApiServer } from './support/kubevirt-log-api.ts';
import { createRecordingTelemetry } from './support/settings.ts';

/**
 * The kubevirt_logs receiver against a recorded Kubernetes API on loopback: the VMs come from
 * the `kubevirt` receiver's discovery (VMI and launcher pod lists recorded from a cluster), the
 * logs from the pod log endpoint, which honours `sinceTime`, `timestamps`, `container` and
 * `limitBytes`. Asserted: the exact lines in each per-VM file, no line twice across rounds and
 * across a restart, rotation at the configured size keeping the configured count, and a 401 or
 * a 404 on one log counted and reported while the others are collected.
 */

const KV = join(import.meta.dirname, '../receivers/kubevirt/testdata/fixtures/kubernetes');
const FX = join(import.meta.dirname, '../receivers/kubevirt_logs/testdata/fixtures');
const fixtureLines = (name: string): string[] =>
  readFileSync(join(FX, name), 'utf8')
    .split('\n')
    .filter((line) => line !== '');

const COMPUTE = 'vms/virt-launcher-fedora-db-x7k2p/compute';
const DISK = 'vms/virt-launcher-fedora-db-x7k2p/volumerootdisk';
const CONSOLE = 'vms/virt-launcher-fedora-db-x7k2p/guest-console-log';
const HANDLER = 'kubevirt/virt-handler-8xk2m/virt-handler';
const FEDORA_UID = '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f';
const CIRROS_UID = '1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6';

/** The receiver's log lines (pino JSON), for assertions. */
const logged: { level: number; key?: string; msg: string }[] = [];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  logged.length = 0;
});

async function startApi(): Promise<{ api: LogApiServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-logs-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const api = await startLogApiServer(dir, {
    '/apis/kubevirt.io/v1/virtualmachineinstances': readFileSync(join(KV, 'vmi-list-1.json'), 'utf8'),
    '/api/v1/pods': readFileSync(join(KV, 'pod-list-1.json'), 'utf8'),
    '/api/v1/namespaces/kubevirt/pods': readFileSync(join(FX, 'virt-handler-pods.json'), 'utf8'),
  });
  cleanups.push(() => api.close());
  return { api, dir };
}

function settingsWith(telemetry: SelfTelemetry): ComponentSettings {
  const destination = {
    write(line: string): void {
      logged.push(JSON.parse(line) as { level: number; key?: string; msg: string });
    },
  };
  return {
    id: 'kubevirt_logs',
    kind: 'receiver',
    logger: createLogger('info', destination),
    telemetry: createRecordingTelemetry(),
    meter: telemetry.meter,
    resource: resourceFromAttributes({ 'host.name': 'node-1' }),
  };
}

const noMetrics: MetricSink = {
  export: (_batch, cb) => {
    cb({ code: ExportResultCode.SUCCESS });
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** Starts a receiver through its factory (as the service does) and waits for discovery. */
async function startReceiver(
  api: LogApiServer,
  dir: string,
  telemetry: SelfTelemetry,
  extra: Record<string, unknown> = {},
  waitForDiscovery = true,
): Promise<KubevirtLogsReceiver> {
  const config = kubevirtLogsFactory.configSchema.parse({
    auth_type: 'kubeconfig',
    kubeconfig: api.kubeconfigPath,
    node_name: 'node-1',
    directory: join(dir, 'data'),
    interval: '1h',
    initial_delay: '1h',
    ...extra,
  });
  const receiver = kubevirtLogsFactory.create(settingsWith(telemetry), config);
  if (!(receiver instanceof KubevirtLogsReceiver)) throw new Error('unexpected receiver class');
  const watches = (): number => api.requests.filter((r) => r.query.get('watch') === 'true').length;
  const before = watches();
  await receiver.start(noMetrics);
  cleanups.push(() => receiver.shutdown());
  // Both lists were answered once their watches are open.
  const deadline = Date.now() + 30_000;
  while (waitForDiscovery && watches() < before + 2) {
    if (Date.now() > deadline) throw new Error('discovery did not list the VMIs and pods');
    await new Promise((r) => setTimeout(r, 10));
  }
  return receiver;
}

function readData(dir: string, relative: string): string[] {
  const text = readFileSync(join(dir, 'data', relative), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

async function counterValues(telemetry: SelfTelemetry, name: string): Promise<Map<string, number>> {
  const { resourceMetrics } = await telemetry.reader.collect();
  const out = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) {
        const attrs = point.attributes;
        const key = attrs.reason ?? attrs.source;
        if (typeof key !== 'string') continue;
        out.set(key, (out.get(key) ?? 0) + Number(point.value));
      }
    }
  }
  return out;
}

describe('kubevirt_logs receiver', () => {
  it('writes each VM’s logs exactly once across rounds and a restart; a 401 and a 404 are counted, the rest goes on', async () => {
    const { api, dir } = await startApi();
    const compute = fixtureLines('virt-launcher-fedora-db-compute.log');
    const more = fixtureLines('virt-launcher-fedora-db-compute-more.log');
    const consoleLines = fixtureLines('virt-launcher-fedora-db-guest-console-log.log');
    const handler = fixtureLines('virt-handler-8xk2m.log');
    api.logs.set(COMPUTE, [...compute]);
    api.logs.set(CONSOLE, [...consoleLines]);
    api.logs.set(HANDLER, [...handler]);
    // The disk container's log is gone; the handler's token is refused (as after a rotation).
    api.failures.set(DISK, {
      status: 404,
      reason: 'NotFound',
      message: 'pods "virt-launcher-fedora-db-x7k2p" not found',
    });
    api.failures.set(HANDLER, { status: 401, reason: 'Unauthorized', message: 'Unauthorized' });

    const telemetry = new SelfTelemetry(resourceFromAttributes({}));
    cleanups.push(() => telemetry.shutdown());
    let receiver = await startReceiver(api, dir, telemetry);
    await receiver.collectNow();

    expect(readData(dir, 'vms/fedora-db/virt-launcher.log')).toEqual(compute);
    expect(readData(dir, 'vms/fedora-db/virt-launcher.guest-console-log.log')).toEqual(consoleLines);
    expect(existsSync(join(dir, 'data/vms/fedora-db/virt-launcher.volumerootdisk.log'))).toBe(false);
    expect(existsSync(join(dir, 'data/_node/virt-handler.log'))).toBe(false);
    expect(await counterValues(telemetry, 'inframeter.kubevirt_logs.errors')).toEqual(
      new Map([
        ['not_found', 1],
        ['unauthorized', 1],
      ]),
    );
    // Each failure is logged once, at warn, under its log.
    const warnings = logged.filter((l) => l.level === 40).map((l) => [l.key, l.msg]);
    expect(warnings).toEqual([
      [DISK, `log of ${DISK}: HTTP 404 not found (the pod or container is gone)`],
      [HANDLER, `log of ${HANDLER}: HTTP 401 unauthorized (the token was refused)`],
    ]);
    // The first request of a log starts at its beginning, with the kubelet's timestamps.
    const first = api.logRequests(COMPUTE)[0];
    expect(first?.get('sinceTime')).toBeNull();
    expect(first?.get('timestamps')).toBe('true');
    // Only the node's handler pod was listed (labelSelector and fieldSelector).
    const handlerList = api.requests.find((r) => r.path === '/api/v1/namespaces/kubevirt/pods');
    expect(handlerList?.query.get('labelSelector')).toBe('kubevirt.io=virt-handler');
    expect(handlerList?.query.get('fieldSelector')).toBe('spec.nodeName=node-1');
    expect(api.logRequests('kubevirt/virt-handler-p4r7t/virt-handler')).toEqual([]);

    // Round 2: the launcher wrote more (its first new line within the second of the last one
    // seen), the handler's token works again.
    api.logs.get(COMPUTE)?.push(...more);
    api.failures.delete(HANDLER);
    await receiver.collectNow();
    expect(readData(dir, 'vms/fedora-db/virt-launcher.log')).toEqual([...compute, ...more]);
    expect(api.logRequests(COMPUTE)[1]?.get('sinceTime')).toBe('2026-11-30T09:12:47Z');
    expect(readData(dir, 'vms/fedora-db/virt-launcher.guest-console-log.log')).toEqual(consoleLines);
    expect(readData(dir, '_node/virt-handler.log')).toEqual(handler);
    // The handler's log recovered (logged at info); the disk's 404 repeated (at debug only).
    expect(logged.filter((l) => l.level === 30 && l.key === HANDLER).map((l) => l.msg)).toEqual([
      'recovered',
    ]);
    expect(logged.filter((l) => l.level === 40)).toHaveLength(2);
    // Handler lines about a VM also go to that VM's directory (by the line's uid).
    expect(readData(dir, 'vms/fedora-db/virt-handler.log')).toEqual(
      handler.filter((line) => line.includes(FEDORA_UID)),
    );
    expect(readData(dir, 'lab/cirros-scratch/virt-handler.log')).toEqual(
      handler.filter((line) => line.includes(CIRROS_UID)),
    );
    const lines = await counterValues(telemetry, 'inframeter.kubevirt_logs.lines');
    expect(lines.get('virt-launcher')).toBe(compute.length + more.length + consoleLines.length);
    expect(lines.get('virt-handler')).toBe(handler.length);

    // Restart: a new receiver on the same directory resumes from the state file.
    await receiver.shutdown();
    const later =
      '2026-11-30T11:40:02.118442Z {"component":"virt-launcher","level":"info","msg":"Domain stopped.","pos":"manager.go:1497","timestamp":"2026-11-30T11:40:02.118301Z"}';
    api.logs.get(COMPUTE)?.push(later);
    const computeRequests = api.logRequests(COMPUTE).length;
    receiver = await startReceiver(api, dir, telemetry);
    await receiver.collectNow();
    expect(readData(dir, 'vms/fedora-db/virt-launcher.log')).toEqual([...compute, ...more, later]);
    expect(api.logRequests(COMPUTE)[computeRequests]?.get('sinceTime')).toBe('2026-11-30T10:02:13Z');
    expect(readData(dir, '_node/virt-handler.log')).toEqual(handler);
    expect(readData(dir, 'vms/fedora-db/virt-launcher.guest-console-log.log')).toEqual(consoleLines);
  });

  it('rotates a VM’s file at max_file_size, keeps max_files, and catches up over several limitBytes requests', async () => {
    const { api, dir } = await startApi();
    // 60 lines of 160 bytes (161 with the newline), one per second.
    const lines = Array.from({ length: 60 }, (_, i) => {
      const second = String(i % 60).padStart(2, '0');
      const head = `2026-11-30T12:00:${second}.5Z {"component":"virt-launcher","level":"info","msg":"tick ${String(i).padStart(3, '0')} `;
      return head + 'x'.repeat(160 - head.length - 2) + '"}';
    });
    expect(lines.every((line) => Buffer.byteLength(line) === 160)).toBe(true);
    api.logs.set(COMPUTE, lines);
    const telemetry = new SelfTelemetry(resourceFromAttributes({}));
    cleanups.push(() => telemetry.shutdown());
    const receiver = await startReceiver(api, dir, telemetry, {
      containers: ['compute'],
      virt_handler: { enabled: false },
      max_bytes_per_request: '2KiB',
      files: { max_file_size: '2KiB', max_files: 3 },
    });
    await receiver.collectNow();

    // 2048 bytes hold 12 lines of 161 bytes: files of 12 lines, the newest partial.
    const vmDir = join(dir, 'data/vms/fedora-db');
    expect(readdirSync(vmDir).sort()).toEqual([
      'virt-launcher.log',
      'virt-launcher.log.1',
      'virt-launcher.log.2',
    ]);
    const current = readData(dir, 'vms/fedora-db/virt-launcher.log');
    const one = readData(dir, 'vms/fedora-db/virt-launcher.log.1');
    const two = readData(dir, 'vms/fedora-db/virt-launcher.log.2');
    expect(current).toEqual(lines.slice(48));
    expect(one).toEqual(lines.slice(36, 48));
    expect(two).toEqual(lines.slice(24, 36));
    for (const name of ['virt-launcher.log.1', 'virt-launcher.log.2'])
      expect(statSync(join(vmDir, name)).size).toBe(12 * 161);
    // 9,660 bytes at 2 KiB per answer (12 whole lines, the cut 13th left out): each request
    // starts at the second of the last line seen, whose repetition is dropped.
    const requests = api.logRequests(COMPUTE);
    expect(requests.map((q) => q.get('limitBytes'))).toEqual(Array.from({ length: 6 }, () => '2048'));
    expect(requests.map((q) => q.get('sinceTime'))).toEqual([
      null,
      '2026-11-30T12:00:11Z',
      '2026-11-30T12:00:22Z',
      '2026-11-30T12:00:33Z',
      '2026-11-30T12:00:44Z',
      '2026-11-30T12:00:55Z',
    ]);
  });

  it('stops at once when a log request hangs (the request is cancelled, not waited for)', async () => {
    const { api, dir } = await startApi();
    api.hanging.add(COMPUTE);
    const telemetry = new SelfTelemetry(resourceFromAttributes({}));
    cleanups.push(() => telemetry.shutdown());
    const receiver = await startReceiver(api, dir, telemetry, { containers: ['compute'], timeout: '5m' });
    const round = receiver.collectNow();
    const deadline = Date.now() + 30_000;
    while (api.logRequests(COMPUTE).length === 0) {
      if (Date.now() > deadline) throw new Error('the log was not requested');
      await new Promise((r) => setTimeout(r, 10));
    }
    const stopping = Date.now();
    await receiver.shutdown();
    await round;
    // Far below the 5-minute request timeout: the request was cancelled.
    expect(Date.now() - stopping).toBeLessThan(30_000);
    expect(logged.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([]);
  });

  it('keeps every VM’s position when a restarted receiver runs before the discovery could list', async () => {
    const { api, dir } = await startApi();
    const compute = fixtureLines('virt-launcher-fedora-db-compute.log');
    api.logs.set(COMPUTE, [...compute]);
    const telemetry = new SelfTelemetry(resourceFromAttributes({}));
    cleanups.push(() => telemetry.shutdown());
    const options = { containers: ['compute'], virt_handler: { enabled: false }, timeout: '1s' };
    let receiver = await startReceiver(api, dir, telemetry, options);
    await receiver.collectNow();
    expect(readData(dir, 'vms/fedora-db/virt-launcher.log')).toEqual(compute);
    await receiver.shutdown();

    // After the restart the VMI list fails (the API server's etcd times out) for a while.
    api.failingLists.set('/apis/kubevirt.io/v1/virtualmachineinstances', 2);
    receiver = await startReceiver(api, dir, telemetry, options, false);
    await receiver.collectNow();
    const more = fixtureLines('virt-launcher-fedora-db-compute-more.log');
    api.logs.get(COMPUTE)?.push(...more);
    const deadline = Date.now() + 30_000;
    while (
      (api.failingLists.get('/apis/kubevirt.io/v1/virtualmachineinstances') ?? 0) > 0 ||
      api.requests.filter(
        (r) => r.path === '/apis/kubevirt.io/v1/virtualmachineinstances' && r.query.get('watch') === 'true',
      ).length < 2
    ) {
      if (Date.now() > deadline) throw new Error('the discovery did not list again');
      await new Promise((r) => setTimeout(r, 20));
    }
    await receiver.collectNow();
    expect(readData(dir, 'vms/fedora-db/virt-launcher.log')).toEqual([...compute, ...more]);
  });
});
