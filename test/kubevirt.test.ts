import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { ExportResultCode } from '@opentelemetry/core';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricSink } from '../kit/component.ts';
import { configSchema } from '../receivers/kubevirt/config.ts';
import { createHostClient } from '../receivers/kubevirt/client.ts';
import { metadata } from '../receivers/kubevirt/metadata.ts';
import type { VirtualMachineInstance } from '../receivers/kubevirt/parse/vmi.ts';
import { toVmTargets } from '../receivers/kubevirt/parse/vmi.ts';
import { createKubevirtReceiver } from '../receivers/kubevirt/factory.ts';
import { KubevirtScraper } from '../receivers/kubevirt/scraper.ts';
import type { RecordedApi } from './support/kubernetes-api.ts';
import { startRecordedApi, statusBody } from './support/kubernetes-api.ts';
import { missing, poll } from './support/peers.ts';
import { createTestSettings, scrapeOnce } from './support/settings.ts';

/**
 * The kubevirt receiver end to end on this machine: the VMs come from a recorded Kubernetes
 * API on loopback (VirtualMachineInstance and virt-launcher Pod lists and watch streams, a
 * 403 on the first pod list), the QEMU processes and pod cgroups from a fixture host tree
 * (cgroup v2, systemd driver), and the domain statistics from libvirt's real test driver
 * (libvirt.so through koffi), reached for the one VM whose launcher socket exists; the other
 * VM's daemon is unreachable, which is counted, not an error.
 */

const fixtures = join(import.meta.dirname, '../receivers/kubevirt/testdata/fixtures');
const fixture = (name: string): string => readFileSync(join(fixtures, 'kubernetes', name), 'utf8');
const lines = (name: string): string[] => fixture(name).trim().split('\n');
const FEDORA_POD = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const WIN_POD = 'e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a81';
const items = <T>(name: string): T[] => (JSON.parse(fixture(name)) as { items: T[] }).items;

/** The recorded VMIs and launcher pods once the watches ran: cirros-scratch, fedora-db, win-app. */
function recordedTargets() {
  const vmis = [
    ...items<VirtualMachineInstance>('vmi-list-1.json'),
    ...lines('vmi-watch-1.jsonl')
      .slice(1)
      .map((l) => (JSON.parse(l) as { object: VirtualMachineInstance }).object),
  ];
  const pods = [
    ...items<V1Pod>('pod-list-1.json'),
    ...lines('pod-watch-1.jsonl')
      .slice(1, 2)
      .map((l) => (JSON.parse(l) as { object: V1Pod }).object),
  ];
  return toVmTargets(vmis, pods, 'node-1');
}
const skip = missing('virsh', 'libvirt-clients');

const apis: RecordedApi[] = [];
const sockets: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
  for (const socket of sockets.splice(0)) await new Promise((resolve) => socket.close(resolve));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function points(batch: ResourceMetrics, metric: string): DataPoint<number>[] {
  return batch.scopeMetrics.flatMap((s) =>
    s.metrics.filter((m) => m.descriptor.name === metric).flatMap((m) => m.dataPoints as DataPoint<number>[]),
  );
}

function value(
  batch: ResourceMetrics,
  metric: string,
  attributes: Record<string, unknown>,
): number | undefined {
  const found = points(batch, metric).filter((p) =>
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
  if (found.length > 1) throw new Error(`${metric}: ${String(found.length)} points match`);
  return found[0]?.value;
}

describe.skipIf(skip)('kubevirt receiver', () => {
  it('reports each VM of the node from the API, the host tree and the launcher’s libvirt', async () => {
    const api = await startRecordedApi({
      '/apis/kubevirt.io/v1/virtualmachineinstances': {
        list: [{ status: 200, body: fixture('vmi-list-1.json') }],
        watch: [{ events: lines('vmi-watch-1.jsonl'), then: 'hold' }],
      },
      '/api/v1/pods': {
        list: [
          { status: 403, body: statusBody(403, 'Forbidden', 'pods is forbidden') },
          { status: 200, body: fixture('pod-list-1.json') },
        ],
        watch: [{ events: lines('pod-watch-1.jsonl').slice(0, 2), then: 'hold' }],
      },
    });
    apis.push(api);
    // A socket where fedora-db's launcher daemon listens; win-app's launcher has none.
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-'));
    dirs.push(dir);
    const socket = createServer((connection) => connection.destroy());
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.listen(join(dir, `${FEDORA_POD}.sock`), resolve));

    const root = join(fixtures, 'host-v2');
    const config = configSchema.parse({
      node_name: 'node-1',
      root_path: root,
      collection_interval: '500ms',
      libvirt: {
        timeout: '400ms',
        socket: `${dir}/{pod_uid}.sock`,
        // libvirt's test driver stands in for the launcher's virtqemud: one node file per pod.
        uri: `test://${fixtures}/libvirt/{pod_uid}.xml`,
      },
    });
    const settings = createTestSettings('kubevirt', 'receiver');
    const receiver = createKubevirtReceiver(settings, config, {
      kubeConfig: api.kubeConfig,
      client: createHostClient({ rootPath: root, pageSize: 4096 }),
      retryDelayMs: 20,
    });
    const batches: ResourceMetrics[] = [];
    const sink: MetricSink = {
      export(batch, callback) {
        batches.push(batch);
        callback({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const complete = (batch: ResourceMetrics): boolean =>
      value(batch, 'process.memory.usage', { 'kubevirt.vmi.name': 'win-app' }) !== undefined &&
      value(batch, 'inframeter.libvirt.domain.vcpu.count', { 'kubevirt.vmi.name': 'fedora-db' }) !==
        undefined;
    await receiver.start(sink);
    try {
      const deadline = Date.now() + 30_000;
      while (!batches.some(complete)) {
        if (Date.now() > deadline) throw new Error('no batch with every VM');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await receiver.shutdown();
      await receiver.shutdown();
    }
    const batch = batches.find(complete);
    if (batch === undefined) throw new Error('unreachable');

    const fedora = {
      'k8s.namespace.name': 'vms',
      'k8s.node.name': 'node-1',
      'kubevirt.vmi.name': 'fedora-db',
      'kubevirt.vmi.uid': '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f',
      'kubevirt.vm.name': 'fedora-db',
      'k8s.pod.name': 'virt-launcher-fedora-db-x7k2p',
      'k8s.pod.uid': FEDORA_POD,
    };
    const qemu = { ...fedora, 'process.pid': 4302, 'process.executable.name': 'qemu-kvm' };
    expect(value(batch, 'process.cpu.time', { ...qemu, 'cpu.mode': 'user' })).toBe(1872.34);
    expect(value(batch, 'process.cpu.time', { ...qemu, 'cpu.mode': 'system' })).toBe(523.11);
    expect(value(batch, 'process.memory.usage', qemu)).toBe(2147483648);
    // The pod cgroup (v2): memory.current, memory.stat anon, memory.max, cpu.stat usage_usec.
    expect(value(batch, 'k8s.pod.memory.usage', fedora)).toBe(2366111744);
    expect(value(batch, 'k8s.pod.memory.working_set', fedora)).toBe(2366111744 - 98566144);
    expect(value(batch, 'k8s.pod.memory.rss', fedora)).toBe(2206203904);
    expect(value(batch, 'inframeter.kubevirt.pod.memory.limit', fedora)).toBe(2405433344);
    expect(value(batch, 'k8s.pod.cpu.time', fedora)).toBe(2474.16);

    // The domain through libvirt, with the VM's attributes.
    const domain = { ...fedora, 'libvirt.domain.name': 'vms_fedora-db' };
    expect(value(batch, 'inframeter.libvirt.domain.vcpu.count', domain)).toBe(2);
    expect(
      value(batch, 'inframeter.libvirt.domain.memory.usage', {
        ...domain,
        'libvirt.memory.state': 'maximum',
      }),
    ).toBe(2097152 * 1024);
    expect(points(batch, 'inframeter.libvirt.domain.vcpu.count')[0]?.attributes['libvirt.domain.uuid']).toBe(
      '5d1f0c2a-4c5b-4a69-8e7f-0a1b2c3d4e5f',
    );

    const win = {
      'kubevirt.vmi.name': 'win-app',
      'kubevirt.vm.name': 'win-app',
      'k8s.pod.name': 'virt-launcher-win-app-m4n5b',
    };
    expect(value(batch, 'process.memory.usage', { ...win, 'process.pid': 5120 })).toBe(4294967296);
    expect(value(batch, 'k8s.pod.memory.usage', win)).toBe(4412338176);
    expect(value(batch, 'inframeter.kubevirt.pod.memory.limit', win)).toBeUndefined();
    expect(
      points(batch, 'inframeter.libvirt.domain.vcpu.count').map((p) => p.attributes['kubevirt.vmi.name']),
    ).toEqual(['fedora-db']);

    const count = (metric: string, key: string, status: string) => value(batch, metric, { [key]: status });
    const vm = 'inframeter.kubevirt.vm.count';
    const status = 'inframeter.kubevirt.vm.status';
    expect([
      count(vm, status, 'monitored'),
      count(vm, status, 'no_launcher_pod'),
      count(vm, status, 'no_qemu_process'),
    ]).toEqual([2, 1, 0]);
    const lv = 'inframeter.kubevirt.libvirt.count';
    const lvStatus = 'inframeter.kubevirt.libvirt.status';
    expect([count(lv, lvStatus, 'reachable'), count(lv, lvStatus, 'unreachable')]).toEqual([1, 1]);
    expect(
      value(batch, 'inframeter.kubevirt.discovery.errors', {
        'inframeter.kubevirt.resource': 'pods',
        'error.type': '403',
      }),
    ).toBe(1);
    expect(
      value(batch, 'inframeter.kubevirt.vm.phase', {
        'kubevirt.vmi.name': 'cirros-scratch',
        'kubevirt.vmi.phase': 'Running',
      }),
    ).toBe(1);
    // Unreachable daemons and missing launcher pods are states, not scrape failures.
    expect(settings.telemetry.counts.failed).toBe(0);
    // Every metric and attribute emitted is in the catalogue the README's table is made from.
    const catalogue = new Map(metadata.metrics.map((m) => [m.name, new Set(m.attributes)]));
    const unlisted = batch.scopeMetrics.flatMap((sm) =>
      sm.metrics.flatMap((m) => {
        const known = catalogue.get(m.descriptor.name);
        if (known === undefined) return [m.descriptor.name];
        return m.dataPoints.flatMap((p) =>
          Object.keys(p.attributes)
            .filter((k) => !known.has(k))
            .map((k) => `${m.descriptor.name}{${k}}`),
        );
      }),
    );
    expect([...new Set(unlisted)]).toEqual([]);
  });
});

describe.skipIf(skip)('kubevirt receiver with launcher daemons that fail', () => {
  it('counts a daemon that hangs up and one that never answers as unreachable, and reads the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-'));
    dirs.push(dir);
    // fedora-db's daemon closes every connection at once; win-app's accepts and never answers.
    const held = new Set<Socket>();
    const hangUp = createServer((connection) => connection.destroy());
    const silent = createServer((connection) => {
      held.add(connection);
    });
    sockets.push(hangUp);
    await new Promise<void>((resolve) => hangUp.listen(join(dir, `${FEDORA_POD}.sock`), resolve));
    await new Promise<void>((resolve) => silent.listen(join(dir, `${WIN_POD}.sock`), resolve));
    const root = join(fixtures, 'host-v2');
    const targets = recordedTargets();
    const opened: string[] = [];
    const scraper = new KubevirtScraper(
      configSchema.parse({
        node_name: 'node-1',
        root_path: root,
        libvirt: { socket: `${dir}/{pod_uid}.sock`, timeout: '300ms', retry_delay: '1ms' },
      }),
      {
        vms: { version: 1, targets: () => targets },
        client: createHostClient({ rootPath: root, pageSize: 4096 }),
        // libvirt's own client (koffi, libvirt.so), recording what it is asked to open.
        openLibvirt: async (uri, options) => {
          opened.push(uri);
          const { openConnection } = await import('../receivers/libvirt/client.ts');
          return openConnection(uri, options);
        },
      },
    );
    try {
      const started = performance.now();
      const { batch, errors } = await scrapeOnce(scraper);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(errors).toEqual(new Map());
      const lv = (status: string) =>
        value(batch, 'inframeter.kubevirt.libvirt.count', { 'inframeter.kubevirt.libvirt.status': status });
      expect([lv('reachable'), lv('unreachable')]).toEqual([0, 2]);
      expect(opened.sort()).toEqual(
        [FEDORA_POD, WIN_POD].map((uid) => `qemu+unix:///session?socket=${dir}/${uid}.sock`).sort(),
      );
      // The process and pod figures do not depend on libvirt.
      expect(value(batch, 'process.memory.usage', { 'kubevirt.vmi.name': 'win-app' })).toBe(4294967296);
      expect(value(batch, 'k8s.pod.memory.usage', { 'kubevirt.vmi.name': 'fedora-db' })).toBe(2366111744);
      // A later scrape retries the daemon that hung up, after its (1 ms) backoff, once the
      // first attempt has ended (its connection process may still be starting).
      await poll('the daemon that hung up retried', 30_000, async () => {
        await scraper.scrape(new AbortController().signal);
        return opened.filter((u) => u.includes(FEDORA_POD)).length >= 2 ? true : undefined;
      });
    } finally {
      // Hanging up on the silent connection lets libvirt's waiting call return.
      for (const connection of held) connection.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await scraper.shutdown();
    }
  });
});
