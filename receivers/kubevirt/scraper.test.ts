import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { ValueType } from '@opentelemetry/api';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { scrapeOnce } from '../../test/support/settings.ts';
import type { LibvirtConnection } from '../libvirt/index.ts';
import type { KubevirtHostClient } from './client.ts';
import { createHostClient } from './client.ts';
import { configSchema } from './config.ts';
import type { VirtualMachineInstance, VmTarget } from './parse/vmi.ts';
import { toVmTargets } from './parse/vmi.ts';
import type { VmSource } from './scraper.ts';
import { KubevirtScraper } from './scraper.ts';
import { waitUntil } from '../../test/support/wait.ts';

/**
 * The scraper on recorded-shape fixture host trees (cgroup v1 with the cgroupfs driver here;
 * v2 with the systemd driver in test/kubevirt.test.ts), with the VMs joined from the recorded
 * API objects: exact QEMU and pod cgroup values, the states of VMs that cannot be read in full,
 * and VMs or processes that vanish while a scrape runs.
 */

const fixtures = join(import.meta.dirname, 'testdata/fixtures');
const list = <T>(name: string): T[] =>
  (JSON.parse(readFileSync(join(fixtures, 'kubernetes', name), 'utf8')) as { items: T[] }).items;
const watched = <T>(name: string): T[] =>
  readFileSync(join(fixtures, 'kubernetes', name), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { object: T }).object);

const FEDORA_POD = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const WIN_POD = 'e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a81';

/** cirros-scratch (no launcher pod), fedora-db and win-app, both running with their pods. */
function recordedTargets(): VmTarget[] {
  const vmis = list<VirtualMachineInstance>('vmi-list-2.json');
  const fedora = list<VirtualMachineInstance>('vmi-list-1.json').find(
    (v) => v.metadata?.name === 'fedora-db',
  );
  const pods = [...list<V1Pod>('pod-list-1.json'), ...watched<V1Pod>('pod-watch-1.jsonl').slice(1, 2)];
  return toVmTargets(fedora === undefined ? vmis : [...vmis, fedora], pods, 'node-1');
}

function fixed(targets: readonly VmTarget[]): VmSource {
  return { version: 1, targets: () => targets };
}

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

const config = (root: string, extra: Record<string, unknown> = {}) =>
  configSchema.parse({
    node_name: 'node-1',
    root_path: join(fixtures, root),
    libvirt: { enabled: false },
    ...extra,
  });

describe('kubevirt scraper', () => {
  it('reads the QEMU process and the pod cgroup of each VM from a cgroup v1 host (cgroupfs driver)', async () => {
    const scraper = new KubevirtScraper(config('host-v1'), {
      vms: fixed(recordedTargets()),
      client: createHostClient({ rootPath: join(fixtures, 'host-v1'), pageSize: 4096 }),
    });
    const { batch, errors } = await scrapeOnce(scraper);
    expect(errors).toEqual(new Map());
    const fedora = { 'kubevirt.vmi.name': 'fedora-db' };
    const qemu = { ...fedora, 'process.pid': 4302, 'process.executable.name': 'qemu-kvm' };
    expect(value(batch, 'process.cpu.time', { ...qemu, 'cpu.mode': 'user' })).toBe(1872.34);
    expect(value(batch, 'process.cpu.time', { ...qemu, 'cpu.mode': 'system' })).toBe(523.11);
    expect(value(batch, 'process.memory.usage', qemu)).toBe(524288 * 4096);
    expect(value(batch, 'process.memory.virtual', qemu)).toBe(3551264768);
    expect(value(batch, 'process.thread.count', qemu)).toBe(7);
    expect(value(batch, 'process.paging.faults', { ...qemu, 'system.paging.fault.type': 'major' })).toBe(
      1243,
    );
    expect(value(batch, 'process.paging.faults', { ...qemu, 'system.paging.fault.type': 'minor' })).toBe(
      5301277,
    );
    // memory.usage_in_bytes, total_rss, limit; working set = usage − total_inactive_file.
    expect(value(batch, 'k8s.pod.memory.usage', fedora)).toBe(2366111744);
    expect(value(batch, 'k8s.pod.memory.rss', fedora)).toBe(2206203904);
    expect(value(batch, 'k8s.pod.memory.working_set', fedora)).toBe(2366111744 - 98566144);
    expect(value(batch, 'inframeter.kubevirt.pod.memory.limit', fedora)).toBe(2405433344);
    expect(value(batch, 'k8s.pod.memory.available', fedora)).toBe(2405433344 - (2366111744 - 98566144));
    expect(value(batch, 'k8s.pod.cpu.time', fedora)).toBe(2474.16);

    const win = { 'kubevirt.vmi.name': 'win-app' };
    expect(value(batch, 'process.memory.usage', { ...win, 'process.pid': 5120 })).toBe(1048576 * 4096);
    expect(value(batch, 'k8s.pod.cpu.time', win)).toBe(600);
    // The v1 "unlimited" limit (a page-rounded 2^63) is no limit.
    expect(value(batch, 'inframeter.kubevirt.pod.memory.limit', win)).toBeUndefined();

    // Every point of a VM names it; the VMI without a launcher pod has only its phase.
    const fedoraPoint = points(batch, 'k8s.pod.memory.usage').find(
      (p) => p.attributes['kubevirt.vmi.name'] === 'fedora-db',
    );
    expect(fedoraPoint?.attributes).toEqual({
      'k8s.namespace.name': 'vms',
      'k8s.node.name': 'node-1',
      'kubevirt.vmi.name': 'fedora-db',
      'kubevirt.vmi.uid': '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f',
      'kubevirt.vm.name': 'fedora-db',
      'k8s.pod.name': 'virt-launcher-fedora-db-x7k2p',
      'k8s.pod.uid': FEDORA_POD,
    });
    const cirros = { 'kubevirt.vmi.name': 'cirros-scratch' };
    expect(value(batch, 'inframeter.kubevirt.vm.phase', { ...cirros, 'kubevirt.vmi.phase': 'Running' })).toBe(
      1,
    );
    expect(
      points(batch, 'process.cpu.time').filter((p) => p.attributes['kubevirt.vmi.name'] === 'cirros-scratch'),
    ).toEqual([]);
    // The host's own libvirt VM (qemu-system-x86 outside any pod) is not a KubeVirt VM.
    expect(points(batch, 'process.cpu.time').map((p) => p.attributes['process.pid'])).not.toContain(6001);
    const count = (status: string) =>
      value(batch, 'inframeter.kubevirt.vm.count', { 'inframeter.kubevirt.vm.status': status });
    expect([count('monitored'), count('no_launcher_pod'), count('no_qemu_process')]).toEqual([2, 1, 0]);
    // Libvirt statistics are off: none of their metrics exist.
    expect(points(batch, 'inframeter.kubevirt.libvirt.count')).toEqual([]);
    // Bytes and sums of things are integers, as the OpenTelemetry Collector sends them.
    const valueTypes = Object.fromEntries(
      batch.scopeMetrics.flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m.descriptor.valueType])),
    );
    expect(valueTypes).toEqual({
      'inframeter.kubevirt.vm.phase': ValueType.DOUBLE,
      'process.cpu.time': ValueType.DOUBLE,
      'process.memory.usage': ValueType.INT,
      'process.memory.virtual': ValueType.INT,
      'process.thread.count': ValueType.INT,
      'process.paging.faults': ValueType.INT,
      'k8s.pod.cpu.time': ValueType.DOUBLE,
      'k8s.pod.memory.usage': ValueType.INT,
      'k8s.pod.memory.working_set': ValueType.INT,
      'k8s.pod.memory.rss': ValueType.INT,
      'k8s.pod.memory.available': ValueType.INT,
      'inframeter.kubevirt.pod.memory.limit': ValueType.INT,
      'inframeter.kubevirt.vm.count': ValueType.INT,
    });
    expect(batch.scopeMetrics.map((s) => s.scope.name)).toEqual(['inframeter/receiver/kubevirt']);
  });

  it('keeps the QEMU pid between scrapes and scans /proc again only when it is gone', async () => {
    const base = createHostClient({ rootPath: join(fixtures, 'host-v2'), pageSize: 4096 });
    let listed = 0;
    let qemuGone = false;
    const client: KubevirtHostClient = {
      ...base,
      process: {
        ...base.process,
        listPids: () => {
          listed += 1;
          return base.process.listPids();
        },
        readPidFile: (pid, file) =>
          qemuGone && pid === 4302 ? undefined : base.process.readPidFile(pid, file),
      },
    };
    let now = 0;
    const targets = recordedTargets();
    const scraper = new KubevirtScraper(config('host-v2'), { vms: fixed(targets), client, now: () => now });
    await scraper.scrape(new AbortController().signal);
    await scraper.scrape(new AbortController().signal);
    expect(listed).toBe(1);
    // QEMU exited (the VM is shutting down): not an error, the VM is counted without a process.
    qemuGone = true;
    now += 1000;
    const { errors } = await scrapeOnce(scraper);
    expect(errors).toEqual(new Map());
    const fedora = scraper.snapshot().vms.find((v) => v.target.vmiName === 'fedora-db');
    expect(fedora?.status).toBe('no_qemu_process');
    expect(fedora?.pod?.memory.usage).toBe(2366111744);
    // Nothing changed in the API and less than 30 s passed since the last scan: no new one.
    await scraper.scrape(new AbortController().signal);
    expect(listed).toBe(1);
    now += 30_000;
    await scraper.scrape(new AbortController().signal);
    expect(listed).toBe(2);
  });

  it('finds QEMU from cgroup paths relative to the agent’s own cgroup namespace', async () => {
    const base = createHostClient({ rootPath: join(fixtures, 'host-v2'), pageSize: 4096 });
    const relative = (text: string | undefined): string | undefined =>
      text?.replace('0::/kubepods.slice/kubepods-burstable.slice/', '0::/../../');
    const client: KubevirtHostClient = {
      ...base,
      process: {
        ...base.process,
        readPidFile: (pid, file) =>
          file === 'cgroup'
            ? relative(base.process.readPidFile(pid, file))
            : base.process.readPidFile(pid, file),
      },
    };
    expect(client.process.readPidFile(4302, 'cgroup')).toMatch(
      /^0::\/\.\.\/\.\.\/kubepods-burstable-podc3d4e5f6_/,
    );
    const scraper = new KubevirtScraper(config('host-v2'), { vms: fixed(recordedTargets()), client });
    await scraper.scrape(new AbortController().signal);
    expect(scraper.snapshot().vms.map((v) => [v.target.vmiName, v.qemu?.pid])).toEqual([
      ['cirros-scratch', undefined],
      ['fedora-db', 4302],
      ['win-app', 5120],
    ]);
  });

  it('gives a daemon that has not answered no second call, and uses the connection once it answers', async () => {
    const base = createHostClient({ rootPath: join(fixtures, 'host-v2'), pageSize: 4096 });
    const client: KubevirtHostClient = { ...base, isSocket: () => true };
    const calls: string[] = [];
    let answer: (connection: LibvirtConnection) => void = () => undefined;
    const late = new Promise<LibvirtConnection>((resolve) => {
      answer = resolve;
    });
    let now = 0;
    const scraper = new KubevirtScraper(
      config('host-v2', { libvirt: { timeout: '50ms', retry_delay: '1ms', uri: 'test:///{pod_uid}' } }),
      {
        vms: fixed(recordedTargets().filter((t) => t.vmiName === 'win-app')),
        client,
        now: () => now,
        // A daemon that takes longer than the timeout to accept the connection.
        openLibvirt: (uri) => {
          calls.push(uri);
          return late;
        },
      },
    );
    await scraper.scrape(new AbortController().signal);
    expect(scraper.snapshot().vms[0]?.libvirt?.status).toBe('unreachable');
    now += 1000;
    await scraper.scrape(new AbortController().signal);
    expect(calls).toEqual([`test:///${WIN_POD}`]);
    const collected: string[] = [];
    answer({
      uri: `test:///${WIN_POD}`,
      collect: () => {
        collected.push('collect');
        return Promise.resolve({
          domains: [],
          host: { memoryTotal: 1, memoryFree: 1, cpus: 1 },
          errors: new Map(),
        });
      },
      close: () => Promise.resolve(),
      abort: () => undefined,
    });
    // The late call goes on to collect once the daemon accepts.
    await waitUntil(() => collected.length === 1, 'the late connection to collect');
    await scraper.scrape(new AbortController().signal);
    expect(scraper.snapshot().vms[0]?.libvirt?.status).toBe('reachable');
    // One open in all: the late call went on to collect, and the next scrape collected on the
    // same connection.
    expect(calls).toHaveLength(1);
    expect(collected).toEqual(['collect', 'collect']);
    await scraper.shutdown();
  });

  it('does not report a VM deleted while it was read, and reports no error for it', async () => {
    const targets = recordedTargets();
    let calls = 0;
    const vanishing: VmSource = {
      get version() {
        return calls;
      },
      targets: () => {
        calls += 1;
        return calls === 1 ? targets : targets.filter((t) => t.vmiName !== 'fedora-db');
      },
    };
    const scraper = new KubevirtScraper(config('host-v2'), {
      vms: vanishing,
      client: createHostClient({ rootPath: join(fixtures, 'host-v2'), pageSize: 4096 }),
    });
    const { batch, errors } = await scrapeOnce(scraper);
    expect(errors).toEqual(new Map());
    expect(
      new Set(points(batch, 'inframeter.kubevirt.vm.phase').map((p) => p.attributes['kubevirt.vmi.name'])),
    ).toEqual(new Set(['cirros-scratch', 'win-app']));
    expect(value(batch, 'process.memory.usage', { 'kubevirt.vmi.name': 'win-app' })).toBe(1048576 * 4096);
  });

  it('counts a launcher pod whose QEMU process is not there, and a host without cgroups as one error', async () => {
    const targets = recordedTargets().map((t) =>
      t.launcherPod?.uid === WIN_POD
        ? { ...t, launcherPod: { ...t.launcherPod, uid: '00000000-0000-4000-8000-000000000000' } }
        : t,
    );
    const scraper = new KubevirtScraper(config('host-v2'), {
      vms: fixed(targets),
      client: createHostClient({ rootPath: join(fixtures, 'host-v2'), pageSize: 4096 }),
    });
    const { batch } = await scrapeOnce(scraper);
    const count = (status: string) =>
      value(batch, 'inframeter.kubevirt.vm.count', { 'inframeter.kubevirt.vm.status': status });
    expect([count('monitored'), count('no_launcher_pod'), count('no_qemu_process')]).toEqual([1, 1, 1]);
    expect(value(batch, 'k8s.pod.memory.usage', { 'kubevirt.vmi.name': 'win-app' })).toBeUndefined();

    const bare = new KubevirtScraper(config('kubernetes'), {
      vms: fixed(recordedTargets()),
      client: createHostClient({ rootPath: join(fixtures, 'kubernetes'), pageSize: 4096 }),
    });
    const { errors } = await scrapeOnce(bare);
    expect([...errors.keys()]).toEqual(['cgroups', `${join(fixtures, 'kubernetes')}/proc`]);
    expect(bare.snapshot().vms.map((v) => v.status)).toEqual([
      'no_launcher_pod',
      'no_qemu_process',
      'no_qemu_process',
    ]);
  });
});
