import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from './config.ts';
import { CgroupsScraper } from './scraper.ts';

// OAR puts a job in the cpuset hierarchy (and freezer, to suspend it); Slurm's task/cgroup
// plugin may use only some controllers too. A job is found in whichever hierarchy holds it.

const fixtures = join(import.meta.dirname, 'testdata', 'fixtures');
const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function v1WithJobsInCpusetAndFreezer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-cgroups-jobs-'));
  temps.push(dir);
  cpSync(join(fixtures, 'v1-cgroupfs'), dir, { recursive: true, verbatimSymlinks: true });
  const cgroup = join(dir, 'sys', 'fs', 'cgroup');
  appendFileSync(
    join(dir, 'proc', '1', 'mounts'),
    'cgroup /sys/fs/cgroup/freezer cgroup rw,nosuid,nodev,noexec,relatime,freezer\n',
  );
  // OAR job 777 of bob: in cpuset and freezer only.
  for (const [controller, files] of [
    ['cpuset', { 'cgroup.procs': '4200\n', 'cpuset.cpus': '0-3\n' }],
    ['freezer', { 'cgroup.procs': '4200\n', 'freezer.state': 'THAWED\n' }],
  ] as const) {
    const job = join(cgroup, controller, 'oar', 'bob_777');
    mkdirSync(job, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(job, name), text);
  }
  mkdirSync(join(cgroup, 'freezer'), { recursive: true });
  writeFileSync(join(cgroup, 'freezer', 'cgroup.procs'), '1\n');
  // A Slurm job in the freezer hierarchy only.
  const slurm = join(cgroup, 'freezer', 'slurm', 'uid_1001', 'job_9001');
  mkdirSync(slurm, { recursive: true });
  writeFileSync(join(slurm, 'cgroup.procs'), '');
  return dir;
}

describe('jobs in whichever hierarchy holds them', () => {
  it('finds an OAR job present only in cpuset and freezer, and a Slurm job only in freezer', async () => {
    const root = v1WithJobsInCpusetAndFreezer();
    const scraper = new CgroupsScraper(configSchema.parse({ root_path: root }));
    const { errors } = await scraper.scrape(new AbortController().signal);
    expect([...errors.keys()]).toEqual([]);
    const paths = scraper.snapshot().cgroups.map((c) => c.path);
    const oar = scraper.snapshot().cgroups.find((c) => c.path === '/oar/bob_777');
    expect(oar?.attributes).toMatchObject({
      'inframeter.cgroups.job.scheduler': 'oar',
      'inframeter.cgroups.job.id': '777',
      'inframeter.cgroups.job.user': 'bob',
    });
    expect(paths).toContain('/slurm/uid_1001/job_9001');
    const slurm = scraper.snapshot().cgroups.find((c) => c.path === '/slurm/uid_1001/job_9001');
    expect(slurm?.attributes).toMatchObject({
      'inframeter.cgroups.job.scheduler': 'slurm',
      'inframeter.cgroups.job.id': '9001',
    });
    // The jobs found before are still there, with what their hierarchies hold.
    expect(paths).toContain('/oar/alice_31337');
    expect(paths).toContain('/slurm/uid_1000/job_4242/step_0');
  });
});
