/**
 * libvirt receiver over libvirt's test driver with 500 domains (a node XML generated here:
 * each with a disk, an interface and a balloon, 9 in 10 running), beside `virsh domstats
 * --raw` over the same XML in the same run; then, when a private libvirtd with the QEMU driver
 * can run (root, Debian libvirt-daemon, libvirt-daemon-driver-qemu, qemu-system-x86), the
 * same against a few real TCG guests.
 *
 *   node bench/libvirt.bench.ts [scrapes] [domains] [qemu guests]    (default 1000 500 2)
 *
 * Our side is the whole scrape through the scrape controller (bulk call, per-domain calls for
 * what the driver does not give in bulk, SDK collection); CPU is this process's user + system
 * time. virsh's CPU is its process's (children's rusage), measured over repeated runs:
 * `domstats --raw` (the issue's peer: on the test driver only the `state` group comes in
 * bulk) and, for the per-domain figures the receiver reports, one virsh session running
 * dominfo, dommemstat, domblkstat, domblkinfo and domifstat for every domain. A virsh run
 * that only connects is subtracted to give virsh's cost per domain without its start-up.
 * Prints CPU per domain, the ratios (target ≤ 1) and RSS sampled over the run (target flat).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../receivers/libvirt/config.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import type { QemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { QEMU_DAEMON_TOOLS, startQemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { createTestSettings } from '../test/support/settings.ts';

const SCRAPES = Number(process.argv[2] ?? 1000);
const DOMAINS = Number(process.argv[3] ?? 500);
const GUESTS = Number(process.argv[4] ?? 2);
const dir = mkdtempSync(join(tmpdir(), 'inframeter-libvirt-bench-'));

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** A test-driver node XML with `n` domains, each with a disk, an interface and a balloon. */
function nodeXml(n: number): string {
  const domains = Array.from({ length: n }, (_, i) => {
    const running = i % 10 !== 9;
    return `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm-${String(i).padStart(4, '0')}</name>
    ${running ? '' : '<test:runstate>5</test:runstate>'}
    <uuid>00000000-0000-4000-8000-${hex(i, 12)}</uuid>
    <memory unit='KiB'>${String(1048576 * (1 + (i % 4)))}</memory>
    <currentMemory unit='KiB'>${String(1048576)}</currentMemory>
    <vcpu placement='static'>${String(1 + (i % 4))}</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/var/lib/libvirt/images/vm-${String(i)}.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='52:54:00:${hex((i >> 16) & 0xff, 2)}:${hex((i >> 8) & 0xff, 2)}:${hex(i & 0xff, 2)}'/>
        <source network='default'/>
        <target dev='vnet${String(i)}'/>
      </interface>
      <memballoon model='virtio'/>
    </devices>
  </domain>`;
  });
  return `<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>64</active><nodes>1</nodes><sockets>2</sockets><cores>16</cores><threads>2</threads></cpu>
  <memory>1073741824</memory>
${domains.join('\n')}
</node>
`;
}

const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;

/** CPU seconds (user + system) of the children this process waited for, from /proc/self/stat. */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (cutime, cstime) of proc(5), counted from 3 after the command name.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** CPU seconds per run of a virsh command line (`runs` runs), and its standard output once. */
function virshCpu(args: readonly string[], runs: number, input?: string): { cpu: number; output: string } {
  let output = '';
  const before = childrenCpu();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('virsh', args, {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      ...(input === undefined ? {} : { input }),
    });
    if (r.status !== 0) throw new Error(`virsh ${args.join(' ').slice(0, 80)}: ${r.stderr}`);
    if (i === 0) output = r.stdout;
  }
  return { cpu: (childrenCpu() - before) / runs, output };
}

interface Measured {
  readonly cpuPerScrapeMs: number;
  readonly wallPerScrapeMs: number;
  readonly points: number;
  readonly rss: readonly number[];
}

async function measureReceiver(uri: string, scrapes: number): Promise<Measured> {
  const scraper = new LibvirtScraper(configSchema.parse({ uris: [uri] }));
  const runner = new ScrapeRunner(scraper, createTestSettings('libvirt/bench', 'receiver'));
  let points = 0;
  for (let i = 0; i < 5; i++) {
    const { batch, report } = await runner.run(60_000);
    if (report.errors.size > 0) throw new Error([...report.errors.values()].map((e) => e.message).join('; '));
    points = countPoints(batch);
  }
  const rss: number[] = [];
  const every = Math.max(1, Math.floor(scrapes / 10));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < scrapes; i++) {
    await runner.run(60_000);
    if ((i + 1) % every === 0) rss.push(rssMiB());
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await runner.shutdown();
  return {
    cpuPerScrapeMs: (cpu.user + cpu.system) / 1000 / scrapes,
    wallPerScrapeMs: wallMs / scrapes,
    points,
    rss,
  };
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/** One virsh session asking each domain for what the receiver reports. */
function perDomainCommands(
  names: readonly string[],
  disk: (n: string) => string,
  nic: (n: string) => string,
): string {
  return (
    names
      .map(
        (n) =>
          `dominfo ${n}\ndommemstat ${n}\ndomblkstat ${n} ${disk(n)}\ndomblkinfo ${n} ${disk(n)}\ndomifstat ${n} ${nic(n)}`,
      )
      .join('\n') + '\n'
  );
}

function report(
  title: string,
  domains: number,
  ours: Measured,
  uri: string,
  names: readonly string[],
  disk: (n: string) => string,
  nic: (n: string) => string,
  runs: number,
): void {
  const connect = virshCpu(['-c', uri, 'uri'], runs);
  const domstats = virshCpu(['-c', uri, 'domstats', '--raw'], runs);
  const listed = (domstats.output.match(/^Domain: /gm) ?? []).length;
  if (listed !== domains)
    throw new Error(`virsh domstats listed ${String(listed)} domains, not ${String(domains)}`);
  const session = virshCpu(
    ['-c', uri],
    Math.max(1, Math.floor(runs / 4)),
    perDomainCommands(names, disk, nic),
  );
  const perDomainUs = (cpuSeconds: number): number => (cpuSeconds * 1e6) / domains;
  /** A difference of two noisy figures: shown only when it is above the noise. */
  const net = (us: number, ratio: number): string => (us > 0 ? fmt(ratio, 2) : 'not resolved');
  const oursUs = (ours.cpuPerScrapeMs * 1000) / domains;
  const domstatsUs = perDomainUs(domstats.cpu);
  const domstatsNetUs = perDomainUs(domstats.cpu - connect.cpu);
  const sessionUs = perDomainUs(session.cpu);
  const sessionNetUs = perDomainUs(session.cpu - connect.cpu);
  console.log(title);
  console.log(
    `  receiver: ${fmt(ours.cpuPerScrapeMs)} ms CPU per scrape (${fmt(ours.wallPerScrapeMs)} ms wall), ` +
      `${fmt(oursUs)} µs CPU per domain, ${String(ours.points)} data points per scrape`,
  );
  console.log(
    `  RSS over the run (MiB, every ${String(Math.round(100 / ours.rss.length))} %): ${ours.rss.map((r) => fmt(r, 0)).join(' ')}; ` +
      `growth first→last sample ${fmt((ours.rss.at(-1) ?? 0) - (ours.rss[0] ?? 0))} MiB`,
  );
  console.log(
    `  virsh domstats --raw: ${fmt(domstats.cpu * 1000)} ms CPU per run, ${fmt(domstatsUs)} µs per domain ` +
      `(${domstatsNetUs > 0 ? fmt(domstatsNetUs) : 'not resolved:'} µs without virsh's start-up and connection, ${fmt(connect.cpu * 1000)} ms)`,
  );
  console.log(
    `  virsh session dominfo+dommemstat+domblkstat+domblkinfo+domifstat per domain: ${fmt(session.cpu * 1000)} ms CPU, ` +
      `${fmt(sessionUs)} µs per domain (${fmt(sessionNetUs)} µs without start-up)`,
  );
  console.log(
    `  ratio receiver / virsh domstats per domain: ${fmt(oursUs / domstatsUs, 2)} ` +
      `(${net(domstatsNetUs, oursUs / domstatsNetUs)} without virsh's start-up); ` +
      `receiver / virsh per-domain session: ${fmt(oursUs / sessionUs, 2)} (${net(sessionNetUs, oursUs / sessionNetUs)})`,
  );
}

try {
  const xml = join(dir, 'node.xml');
  writeFileSync(xml, nodeXml(DOMAINS));
  const uri = `test://${xml}`;
  const names = Array.from({ length: DOMAINS }, (_, i) => `vm-${String(i).padStart(4, '0')}`).filter(
    (_, i) => i % 10 !== 9,
  );
  const ours = await measureReceiver(uri, SCRAPES);
  report(
    `libvirt bench: test driver, ${String(DOMAINS)} domains (${String(names.length)} running), ${String(SCRAPES)} scrapes`,
    DOMAINS,
    ours,
    uri,
    names,
    () => 'vda',
    (n) => `vnet${String(Number(n.slice(3)))}`,
    20,
  );

  const qemuMissing = QEMU_DAEMON_TOOLS.filter(
    ([b]) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0,
  );
  if (GUESTS === 0) console.log('real QEMU: not run (0 guests asked)');
  else if (qemuMissing.length > 0 || process.getuid?.() !== 0)
    console.log(
      `real QEMU: not run (${process.getuid?.() !== 0 ? 'needs root' : `install ${qemuMissing.map(([, p]) => p).join(', ')}`})`,
    );
  else {
    let daemon: QemuDaemon | undefined;
    try {
      daemon = await startQemuDaemon(GUESTS);
      const guests = Array.from({ length: GUESTS }, (_, i) => `bench-${String(i)}`);
      for (const [i, name] of guests.entries())
        await daemon.startGuest({
          name,
          memoryMiB: 64,
          vcpus: 1,
          diskBytes: 16 * 1024 * 1024,
          mac: `52:54:00:00:01:${hex(i, 2)}`,
          tap: i,
        });
      const qemuScrapes = Math.min(SCRAPES, 200);
      const real = await measureReceiver(daemon.uri, qemuScrapes);
      report(
        `libvirt bench: real QEMU driver (private libvirtd, ${String(GUESTS)} TCG guests), ${String(qemuScrapes)} scrapes`,
        GUESTS,
        real,
        daemon.uri,
        guests,
        () => 'vda',
        (n) => `tap${n.slice(6)}`,
        // virsh's CPU is counted in 10 ms ticks: enough runs to resolve a 20 ms run.
        100,
      );
    } finally {
      await daemon?.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
