import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ParseError } from '../../kit/errors.ts';
import type { CgroupFsClient } from './client.ts';
import { createCgroupFsClient } from './client.ts';
import { configSchema } from './config.ts';
import type { CgroupEntry, Snapshot } from './snapshot.ts';
import { CgroupsScraper, comparePaths } from './scraper.ts';
import { generateCgroupTree } from './testdata/generate.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'fixtures');
const DOCKER_V1 = '/docker/3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c';
const K8S_V1 =
  '/kubepods/burstable/pod8d3b6a52-1f0c-4e2b-9a57-0c6e4d2f1b3a/9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9';
const POD_A =
  '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b1c2d3e_4f5a_4b6c_8d7e_9f0a1b2c3d4e.slice';
const temps: string[] = [];

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A writable copy of a fixture tree. */
function copyFixture(layout: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-'));
  temps.push(dir);
  cpSync(join(fixtures, layout), dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

async function scrape(
  root: string,
  options: Record<string, unknown> = {},
  client?: CgroupFsClient,
): Promise<{ snapshot: Snapshot; errors: ReadonlyMap<string, Error> }> {
  const scraper = new CgroupsScraper(
    configSchema.parse({ root_path: root, ...options }),
    client === undefined ? {} : { client },
  );
  const { errors } = await scraper.scrape(new AbortController().signal);
  return { snapshot: scraper.snapshot(), errors };
}

function entry(snapshot: Snapshot, path: string): CgroupEntry {
  const found = snapshot.cgroups.find((c) => c.path === path);
  if (found === undefined) throw new Error(`${path} not in snapshot`);
  return found;
}

describe('layouts', () => {
  it('merges the v1 hierarchies and the unified tree of the recorded hybrid host', async () => {
    const { snapshot, errors } = await scrape(join(fixtures, 'hybrid-recorded'));
    expect([...errors]).toEqual([]);
    expect(snapshot.layout).toBe('hybrid');
    expect(snapshot.cgroups.map((c) => c.path)).toEqual([
      '/',
      '/docker',
      DOCKER_V1,
      '/kubepods',
      '/kubepods/burstable',
      '/kubepods/burstable/pod8d3b6a52-1f0c-4e2b-9a57-0c6e4d2f1b3a',
      K8S_V1,
    ]);
    const docker = entry(snapshot, DOCKER_V1);
    expect(docker.attributes).toEqual({
      'cgroup.path': DOCKER_V1,
      'inframeter.cgroups.kind': 'container',
      'container.id': DOCKER_V1.slice(8),
      'container.runtime.name': 'docker',
    });
    expect(docker.stats.cpu).toEqual({
      usageSec: 0.827326327,
      userSec: 0.79,
      systemSec: 0.03,
      periods: 18,
      throttledPeriods: 16,
      throttledSec: 0.793107897,
    });
    expect(docker.stats.memory).toMatchObject({
      limit: 268435456,
      rss: 57769984,
      file: 1089536,
      majorFaults: 2,
    });
    expect(docker.stats.disk).toEqual([
      {
        device: 'vda',
        readBytes: 40960,
        writeBytes: 8396800,
        discardBytes: 8388608,
        readOps: 5,
        writeOps: 19,
        discardOps: 1,
      },
    ]);
    expect(docker.stats.pressure.map((p) => p.resource)).toEqual(['cpu', 'memory', 'io']);
    expect(docker.stats.network).toEqual([
      { name: 'lo', rxBytes: 108000, txBytes: 108000, rxPackets: 200, txPackets: 200 },
    ]);
    expect(entry(snapshot, K8S_V1).attributes['k8s.pod.uid']).toBe('8d3b6a52-1f0c-4e2b-9a57-0c6e4d2f1b3a');
  });

  it('reads a v2 systemd host: one network namespace per pod, none for the host namespace', async () => {
    const { snapshot, errors } = await scrape(join(fixtures, 'v2-systemd'));
    expect([...errors]).toEqual([]);
    expect(snapshot.layout).toBe('v2');
    const withNetwork = snapshot.cgroups.filter((c) => c.stats.network.length > 0).map((c) => c.path);
    expect(withNetwork).toEqual([
      POD_A,
      '/kubepods.slice/kubepods-pod3e4f5a6b_7c8d_4e9f_a0b1_c2d3e4f5a6b7.slice',
      '/machine.slice/libpod-5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f.scope',
      '/system.slice/docker-e0a6b5c4d3f2e1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6.scope',
    ]);
    const app = entry(
      snapshot,
      `${POD_A}/cri-containerd-7c9e0b5d4f3a2e1d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e11.scope`,
    );
    expect(app.stats.memory).toMatchObject({
      usage: 226772172,
      limit: 268435456,
      rss: 150839296,
      workingSet: 187139276,
      available: 81296180,
    });
    expect(app.stats.memory.events).toEqual([
      ['low', 0],
      ['high', 0],
      ['max', 37],
      ['oom', 2],
      ['oom_kill', 1],
      ['oom_group_kill', 0],
    ]);
    expect(app.stats.cpu).toEqual({
      usageSec: 504.999271,
      userSec: 404.020281,
      systemSec: 100.97899,
      periods: 81230,
      throttledPeriods: 1518,
      throttledSec: 45.67,
    });
    expect(entry(snapshot, '/').stats.disk.map((d) => d.device)).toEqual(['nvme0n1', 'sda']);
  });

  it('reads a v1 host with comounted cpu,cpuacct, a cgroup present in only some hierarchies, Slurm and OAR', async () => {
    const { snapshot, errors } = await scrape(join(fixtures, 'v1-cgroupfs'));
    expect([...errors]).toEqual([]);
    expect(snapshot.layout).toBe('v1');
    const step = entry(snapshot, '/slurm/uid_1000/job_4242/step_0');
    expect(step.attributes).toMatchObject({
      'inframeter.cgroups.job.scheduler': 'slurm',
      'inframeter.cgroups.job.id': '4242',
      'inframeter.cgroups.job.user': '1000',
      'inframeter.cgroups.job.step': '0',
    });
    expect(step.stats.disk).toEqual([]);
    expect(step.stats.tasks).toBeUndefined();
    expect(step.stats.cpu.userSec).toBe(2195);
    expect(step.stats.network).toEqual([]);
    const oar = entry(snapshot, '/oar/alice_31337');
    expect(oar.stats.memory).toMatchObject({
      limit: 17179869184,
      pgpgin: 161382,
      pgpgout: 87654,
      minorFaults: 876531,
      majorFaults: 12,
    });
    expect(oar.stats.disk).toEqual([
      {
        device: 'sda',
        readBytes: 1073741824,
        writeBytes: 536870912,
        discardBytes: 0,
        readOps: 32768,
        writeOps: 16384,
        discardOps: 0,
      },
    ]);
  });

  it('falls back to the directories under /sys/fs/cgroup when there is no mount table', async () => {
    const root = copyFixture('v1-cgroupfs');
    rmSync(join(root, 'proc/1/mounts'));
    const { snapshot, errors } = await scrape(root);
    expect([...errors]).toEqual([]);
    expect(snapshot.layout).toBe('v1');
    expect(snapshot.counts.exported).toBe(15);
  });

  it('fails the scrape when there is no cgroup hierarchy at all', async () => {
    const root = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-'));
    temps.push(root);
    await expect(scrape(root)).rejects.toThrow(/no cgroup hierarchy found/);
  });
});

describe('selection', () => {
  it('applies globs, depth, kinds, runtimes and the cap, counting what is over it', async () => {
    const root = join(fixtures, 'v2-systemd');
    const kube = await scrape(root, { include: ['/kubepods.slice/**'], exclude: ['/**/crio-conmon-*'] });
    expect(kube.snapshot.cgroups.every((c) => c.path.startsWith('/kubepods.slice'))).toBe(true);
    expect(kube.snapshot.cgroups.some((c) => c.path.includes('conmon'))).toBe(false);
    const shallow = await scrape(root, { max_depth: 1 });
    expect(shallow.snapshot.cgroups.map((c) => c.path)).toEqual([
      '/',
      '/kubepods.slice',
      '/machine.slice',
      '/system.slice',
      '/user.slice',
    ]);
    const containers = await scrape(root, { runtimes: ['containerd', 'docker'] });
    expect(containers.snapshot.cgroups.map((c) => c.attributes['container.runtime.name'])).toEqual([
      'containerd',
      'containerd',
      'docker',
    ]);
    const pods = await scrape(root, { kinds: ['pod'] });
    expect(pods.snapshot.cgroups.map((c) => c.stats.network.length)).toEqual([2, 2]);
    const capped = await scrape(root, { max_cgroups: 5 });
    expect(capped.snapshot.cgroups).toHaveLength(5);
    expect(capped.snapshot.counts).toEqual({ exported: 5, over_limit: 22, vanished: 0 });
  });

  it('orders a cgroup before its descendants', () => {
    expect(['/a-b', '/a/b', '/a', '/', '/a/b/c', '/ab'].sort(comparePaths)).toEqual([
      '/',
      '/a',
      '/a/b',
      '/a/b/c',
      '/a-b',
      '/ab',
    ]);
  });
});

describe('bad input', () => {
  it('leaves out a cgroup removed after the listing, without an error', async () => {
    const root = copyFixture('hybrid-recorded');
    const real = createCgroupFsClient();
    const memoryDir = join(root, 'sys/fs/cgroup/memory', DOCKER_V1);
    let removed = false;
    const client: CgroupFsClient = {
      ...real,
      listDir(path) {
        const entries = real.listDir(path);
        if (path === memoryDir && !removed) {
          // Removed between the walk and the reads, as `docker rm` does.
          rmSync(memoryDir, { recursive: true });
          removed = true;
        }
        return entries;
      },
    };
    const { snapshot, errors } = await scrape(root, {}, client);
    expect(removed).toBe(true);
    expect([...errors]).toEqual([]);
    expect(snapshot.cgroups.map((c) => c.path)).not.toContain(DOCKER_V1);
    expect(snapshot.counts).toEqual({ exported: 6, over_limit: 0, vanished: 1 });
  });

  it('keeps an unknown key without exporting it or complaining', async () => {
    const root = copyFixture('v2-systemd');
    const stat = join(root, 'sys/fs/cgroup/system.slice/sshd.service/memory.stat');
    appendFileSync(stat, 'zswap_writeback_future 12345\n');
    const io = join(root, 'sys/fs/cgroup/system.slice/sshd.service/io.stat');
    writeFileSync(io, readFileSync(io, 'utf8').replace('\n', ' cost.future=7\n'));
    const { snapshot, errors } = await scrape(root);
    expect([...errors]).toEqual([]);
    expect(entry(snapshot, '/system.slice/sshd.service').stats.memory.rss).toBe(3145728);
    expect(entry(snapshot, '/system.slice/sshd.service').stats.disk).toHaveLength(1);
  });

  it('exports the rest when a v1 controller is not mounted', async () => {
    const root = copyFixture('hybrid-recorded');
    const mounts = join(root, 'proc/1/mounts');
    writeFileSync(mounts, readFileSync(mounts, 'utf8').replace(/^.*blkio.*\n/m, ''));
    const { snapshot, errors } = await scrape(root);
    expect([...errors]).toEqual([]);
    const docker = entry(snapshot, DOCKER_V1);
    expect(docker.stats.disk).toEqual([]);
    expect(docker.stats.memory.rss).toBe(57769984);
    expect(docker.stats.cpu.userSec).toBe(0.79);
  });

  it('reports a truncated memory.stat under its path and exports the rest', async () => {
    const root = copyFixture('hybrid-recorded');
    const stat = join(root, 'sys/fs/cgroup/memory', DOCKER_V1, 'memory.stat');
    const text = readFileSync(stat, 'utf8');
    truncateSync(stat, text.indexOf('\npgfault') + 4);
    const { snapshot, errors } = await scrape(root);
    expect([...errors.keys()]).toEqual([stat]);
    expect(errors.get(stat)).toBeInstanceOf(ParseError);
    expect(errors.get(stat)?.message).toMatch(/memory\.stat:14: expected "key value", got "pgf"/);
    const docker = entry(snapshot, DOCKER_V1);
    expect(docker.stats.memory.rss).toBeUndefined();
    expect(docker.stats.memory.usage).toBe(
      Number(readFileSync(join(root, 'sys/fs/cgroup/memory', DOCKER_V1, 'memory.usage_in_bytes'), 'utf8')),
    );
    expect(docker.stats.cpu.userSec).toBe(0.79);
    expect(entry(snapshot, K8S_V1).stats.memory.rss).toBe(57765888);
  });

  it('reports an unreadable file and keeps going', async () => {
    const root = join(fixtures, 'v2-systemd');
    const real = createCgroupFsClient();
    const denied = join(root, 'sys/fs/cgroup/system.slice/sshd.service/cpu.stat');
    const client: CgroupFsClient = {
      ...real,
      readText(path) {
        if (path === denied)
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
        return real.readText(path);
      },
    };
    const { snapshot, errors } = await scrape(root, {}, client);
    expect([...errors.keys()]).toEqual([denied]);
    expect(entry(snapshot, '/system.slice/sshd.service').stats.cpu).toEqual({});
    expect(entry(snapshot, '/system.slice/sshd.service').stats.memory.rss).toBe(3145728);
  });
});

describe('generated trees', () => {
  it.each([
    ['v2', 1000],
    ['v1', 250],
    ['hybrid', 250],
  ] as const)(
    'reads a %s tree of %i cgroups',
    async (layout, cgroups) => {
      const root = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-'));
      temps.push(root);
      const tree = generateCgroupTree(root, { cgroups, layout });
      expect(tree.paths).toHaveLength(cgroups);
      const scraper = new CgroupsScraper(configSchema.parse({ root_path: root }));
      const started = performance.now();
      const { errors } = await scraper.scrape(new AbortController().signal);
      const first = performance.now() - started;
      const again = performance.now();
      await scraper.scrape(new AbortController().signal);
      const second = performance.now() - again;
      console.log(
        `${layout}: ${cgroups} cgroups, first scrape ${first.toFixed(1)} ms, second ${second.toFixed(1)} ms`,
      );
      expect([...errors]).toEqual([]);
      const snapshot = scraper.snapshot();
      expect(snapshot.counts).toEqual({ exported: cgroups, over_limit: 0, vanished: 0 });
      const pods = snapshot.cgroups.filter((c) => c.attributes['inframeter.cgroups.kind'] === 'pod');
      expect(pods.length).toBe(tree.containers / 2);
      expect(pods.every((p) => p.stats.network.length === 2)).toBe(true);
      expect(snapshot.cgroups.filter((c) => c.stats.network.length > 0)).toHaveLength(pods.length);
      // Writing the tree's thousands of files takes most of it: 1 to 16 s in CI, near 50 s on two
      // busy cores.
    },
    180_000,
  );
});
