import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildah, descendantsRunning, execute, podman, runIn, startIn } from './support/buildah.ts';
import type { IpmiSim } from './support/ipmi-sim.ts';
import { startIpmiSim } from './support/ipmi-sim.ts';
import { freePort, missing, poll } from './support/peers.ts';

/**
 * The container image, built and run here as a user builds and runs it: the real Dockerfile
 * built with buildah from a clean copy of the repository (a file the Dockerfile forgets to
 * copy fails the build), on local stand-ins for the official base images
 * (scripts/make-base-image.sh), then the image's own entrypoint run inside it: the version,
 * the chart's agent and gateway configs validated, and a collector scraped from outside over
 * loopback with procfs, libvirt (koffi + libvirt0) and IPMI (FreeIPMI against ipmi_sim).
 */

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
/** Measured: 320 MB (README "Container image"); the bound leaves room for Debian updates. */
const SIZE_LIMIT_BYTES = 340e6;
const skip = missing('buildah', 'buildah podman debootstrap uidmap');

const tag = `localhost/inframeter-test:${String(process.pid)}-${String(Date.now())}`;
const container = `inframeter-test-${String(process.pid)}-${String(Date.now())}`;
let context = '';
let work = '';
let entrypoint: string[] = [];
let containerCreated = false;

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const tail = (text: string): string => text.split('\n').slice(-40).join('\n');

/**
 * The repository as a clean clone has it: the committed tree, plus changes to tracked files
 * not yet committed (`git stash create` makes that commit without touching the worktree or
 * any ref). Untracked and ignored files (node_modules, dist, results) never enter.
 */
function cleanCopy(into: string): void {
  const stash = spawnSync('git', ['-C', ROOT, 'stash', 'create'], { encoding: 'utf8' });
  if (stash.status !== 0) throw new Error(`git stash create: ${stash.stderr}`);
  const tree = stash.stdout.trim() === '' ? 'HEAD' : stash.stdout.trim();
  const archive = spawnSync(
    'sh',
    ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', ROOT, tree, into],
    {
      encoding: 'utf8',
    },
  );
  if (archive.status !== 0) throw new Error(`git archive ${tree}: ${archive.stderr}`);
}

/** The image's entrypoint with `args`, run inside the working container to its end. */
function entry(args: string[], env: Record<string, string> = {}): ReturnType<typeof runIn> {
  return runIn(container, [...entrypoint, ...args], { volumes: { [work]: '/work' }, env });
}

describe.skipIf(skip)('container image (Dockerfile built with buildah, run with its entrypoint)', () => {
  beforeAll(async () => {
    const base = await execute('bash', [join(ROOT, 'scripts', 'make-base-image.sh')], 600_000);
    if (base.status !== 0) throw new Error(`scripts/make-base-image.sh:\n${tail(base.stdout + base.stderr)}`);
    context = mkdtempSync(join(tmpdir(), 'inframeter-image-context-'));
    work = mkdtempSync(join(tmpdir(), 'inframeter-image-work-'));
    chmodSync(work, 0o755); // read by the image's unprivileged user
    cleanCopy(context);
    const started = Date.now();
    const build = await buildah(
      ['bud', '--isolation', 'chroot', '--pull=never', '-f', join(context, 'Dockerfile'), '-t', tag, context],
      1_500_000,
    );
    if (build.status !== 0) throw new Error(`buildah bud:\n${tail(build.stdout + build.stderr)}`);
    console.log(`image built in ${((Date.now() - started) / 1000).toFixed(0)} s (load average ${load()})`);
    const from = await buildah(['from', '--name', container, tag]);
    if (from.status !== 0) throw new Error(`buildah from: ${from.stderr}`);
    containerCreated = true;
    const inspect = await buildah(['inspect', '--type', 'image', tag]);
    const config = JSON.parse(inspect.stdout) as { OCIv1: { config: { Entrypoint?: string[] } } };
    entrypoint = config.OCIv1.config.Entrypoint ?? [];
    expect(entrypoint.length, 'the image has an entrypoint').toBeGreaterThan(0);
  }, 2_400_000);

  afterAll(async () => {
    if (containerCreated) await buildah(['rm', container]);
    await buildah(['rmi', tag]);
    for (const dir of [context, work]) if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('stays within its size bound', async () => {
    const inspect = await podman(['image', 'inspect', '--format', '{{.Size}}', tag]);
    const bytes = Number(inspect.stdout.trim());
    console.log(`image size ${(bytes / 1e6).toFixed(1)} MB (load average ${load()})`);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(SIZE_LIMIT_BYTES);
  }, 120_000);

  it('holds the production dependencies and no build tools', async () => {
    const mount = await buildah(['mount', container]);
    expect(mount.status, mount.stderr).toBe(0);
    const root = mount.stdout.trim();
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, e]) => e.dev === true).map(([path]) => path);
    // DuckDB serves only `inframeter results`, which the image leaves out (see the Dockerfile).
    const leftOut = (path: string): boolean => path.startsWith('node_modules/@duckdb/');
    const production = entries
      .filter(([path, e]) => e.dev !== true && e.optional !== true && !leftOut(path))
      .map(([path]) => path);
    expect(existsSync(join(root, 'app', 'node_modules', '@duckdb'))).toBe(false);
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((path) => existsSync(join(root, 'app', path, 'package.json')))).toEqual([]);
    expect(production.filter((path) => !existsSync(join(root, 'app', path, 'package.json')))).toEqual([]);
    // No npm and no compiler beside the collector.
    expect(existsSync(join(root, 'usr/local/lib/node_modules/npm'))).toBe(false);
    expect(existsSync(join(root, 'usr/bin/strip'))).toBe(false);
    expect(existsSync(join(root, 'app/dist/service/main.js'))).toBe(true);
    await buildah(['umount', container]);
  }, 120_000);

  it('answers --version and lists the components the source lists', async () => {
    const version = await entry(['--version']);
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const components = await entry(['components']);
    expect(components.status, components.stderr).toBe(0);
    const fromSource = spawnSync(process.execPath, [MAIN, 'components'], { encoding: 'utf8' });
    expect(components.stdout).toBe(fromSource.stdout);
  }, 120_000);

  it('runs FreeIPMI inside', async () => {
    const sensors = await runIn(container, ['ipmi-sensors', '--version']);
    expect(sensors.status, sensors.stderr).toBe(0);
    expect(sensors.stdout).toMatch(/^ipmi-sensors - \d+\.\d+\.\d+/);
  }, 120_000);

  const noGo = missing('go', 'golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev');
  it.skipIf(noGo)(
    "validates the agent's and the gateway's configs as the Helm chart renders them",
    async () => {
      const renderer = join(work, 'render');
      const build = await execute(
        'env',
        [
          'GOPATH=/usr/share/gocode',
          'GO111MODULE=off',
          `GOCACHE=${join(work, 'gocache')}`,
          'go',
          'build',
          '-o',
          renderer,
          join(ROOT, 'test', 'support', 'helm', 'render.go'),
        ],
        300_000,
      );
      expect(build.status, build.stderr).toBe(0);
      const rendered = spawnSync(
        renderer,
        ['-chart', join(ROOT, 'helm', 'inframeter'), '-name', 'demo', '-namespace', 'monitoring'],
        { encoding: 'utf8' },
      );
      expect(rendered.status, rendered.stderr).toBe(0);
      const { manifests } = JSON.parse(rendered.stdout) as { manifests: { content: string }[] };
      const configMaps = manifests
        .flatMap((m) => parseAllDocuments(m.content).map((d) => d.toJS() as Record<string, unknown> | null))
        .filter((d) => d?.kind === 'ConfigMap') as {
        metadata: { name: string };
        data: Record<string, string>;
      }[];
      expect(configMaps.map((c) => c.metadata.name).sort()).toEqual([
        'demo-inframeter-agent',
        'demo-inframeter-gateway',
      ]);
      for (const configMap of configMaps) {
        const file = `${configMap.metadata.name}.yaml`;
        writeFileSync(join(work, file), configMap.data['config.yaml'] ?? '');
        // What the downward API and the chart's Secrets provide in the pod.
        const env = {
          K8S_NODE_NAME: 'node-1',
          K8S_POD_NAME: 'p',
          K8S_NAMESPACE: 'monitoring',
          OTLP_TOKEN: 't',
        };
        const result = await entry(['validate', '--config', `/work/${file}`], env);
        expect(result.status, `${file}: ${result.stdout}${result.stderr}`).toBe(0);
      }
    },
    600_000,
  );

  const noIpmiSim = missing('ipmi_sim', 'openipmi') || missing('ipmi-sensors', 'freeipmi-tools');
  it('collects procfs, libvirt and IPMI, serves them over loopback, and stops cleanly on SIGTERM', async () => {
    const [prometheus, telemetry] = [await freePort(), await freePort()];
    let bmc: IpmiSim | undefined;
    let collector: ChildProcess | undefined;
    let output = '';
    try {
      if (!noIpmiSim) bmc = await startIpmiSim();
      const ipmi =
        bmc === undefined
          ? []
          : [
              '  ipmi:',
              `    targets: [{ host: "127.0.0.1:${String(bmc.port)}", name: lab }]`,
              '    username: admin',
              '    password: password',
              '    workarounds: [opensesspriv]',
              '    sdr_cache_directory: /tmp/inframeter-sdr',
              '    collection_interval: 1s',
            ];
      writeFileSync(
        join(work, 'run.yaml'),
        [
          'receivers:',
          '  procfs:',
          '    collection_interval: 1s',
          '  libvirt:',
          '    uris: ["test:///default"]',
          '    collection_interval: 1s',
          ...ipmi,
          'exporters:',
          '  prometheus:',
          `    endpoint: 127.0.0.1:${String(prometheus)}`,
          'service:',
          '  telemetry:',
          '    metrics:',
          `      address: 127.0.0.1:${String(telemetry)}`,
          '  pipelines:',
          '    metrics:',
          `      receivers: [procfs, libvirt${bmc === undefined ? '' : ', ipmi'}]`,
          '      exporters: [prometheus]',
          '',
        ].join('\n'),
      );
      const started = startIn(container, [...entrypoint, 'run', '--config', '/work/run.yaml'], {
        volumes: { [work]: '/work' },
      });
      collector = started;
      started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const wanted = [
        /^system_memory_limit_bytes\{.*\} (\d+)$/m,
        /^inframeter_libvirt_domain_vcpu_count\{.*libvirt_domain_name="test".*\} (\d+)$/m,
        ...(bmc === undefined ? [] : [/^hw_power_watts\{.*hw_id="lab:3".*\} (\d+)$/m]),
      ];
      const exposition = await poll(
        'procfs, libvirt and IPMI series in the exposition',
        120_000,
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${String(prometheus)}/metrics`)).text();
          return wanted.every((w) => w.test(text)) ? text : undefined;
        },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\ncollector output:\n${tail(output)}`);
      });
      // The host's kernel answers /proc/meminfo inside the chroot too: MemTotal, kB → bytes.
      const memTotalKb = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
      expect(wanted[0]?.exec(exposition)?.[1]).toBe(String(Number(memTotalKb) * 1024));
      // libvirt's test driver: domain "test" has 2 vCPUs.
      expect(wanted[1]?.exec(exposition)?.[1]).toBe('2');
      // The lab BMC's power sensor: raw 125 × 2 W.
      if (bmc !== undefined) expect(wanted[2]?.exec(exposition)?.[1]).toBe('250');

      // The collector itself, found under buildah by PID: it runs as the image's user and
      // exits 0 on SIGTERM.
      const pid = descendantsRunning(started.pid ?? -1, 'node')[0];
      expect(pid, `no node process under buildah ${String(started.pid)}`).toBeDefined();
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1];
      expect(uid).toBe('10001');
      const exited = new Promise<number | null>((resolve) => started.once('exit', resolve));
      process.kill(pid ?? -1, 'SIGTERM');
      expect(await exited, tail(output)).toBe(0);
      collector = undefined;
    } finally {
      if (collector !== undefined && collector.exitCode === null) {
        for (const pid of descendantsRunning(collector.pid ?? -1, 'node')) process.kill(pid, 'SIGKILL');
        collector.kill('SIGKILL');
      }
      bmc?.stop();
    }
  }, 300_000);
});
