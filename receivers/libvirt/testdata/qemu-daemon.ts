import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private libvirt daemon with the real QEMU driver, for tests and benchmarks: Debian's
 * `libvirtd` (packages libvirt-daemon, libvirt-daemon-driver-qemu) in session mode, run as
 * the unprivileged user `nobody` with its configuration, state, cache and socket all under
 * one temporary directory, so it never touches (or collides with) a system libvirtd. It runs
 * in its own network namespace (`unshare --net`), where a tap device owned by `nobody` is
 * created for the guests' interfaces (the only capability the daemon keeps is
 * CAP_DAC_OVERRIDE, to open /dev/net/tun); the namespace and its tap vanish with the daemon.
 *
 * Guests run under QEMU's TCG (`<domain type='qemu'>`, no KVM needed) with nothing to boot:
 * SeaBIOS reads the empty raw disk and iPXE sends DHCP requests through the tap, so the
 * block and interface counters move.
 */

export const NOBODY = 65534;

/** Commands the daemon needs, with their Debian packages. */
export const QEMU_DAEMON_TOOLS: readonly (readonly [string, string])[] = [
  ['libvirtd', 'libvirt-daemon libvirt-daemon-driver-qemu'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['unshare', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['ip', 'iproute2'],
  ['virsh', 'libvirt-clients'],
];

export interface QemuDaemon {
  /** The URI the receiver and virsh use: the daemon's own socket. */
  readonly uri: string;
  readonly dir: string;
  /** Taps created in the daemon's namespace, one per guest: tap0, tap1, … */
  readonly taps: readonly string[];
  virsh(...args: string[]): string;
  /** Defines and starts a tiny guest with one disk (`vda`), one interface and a balloon. */
  startGuest(guest: GuestSpec): Promise<void>;
  /** PIDs of the QEMU processes the daemon started (from its pid files). */
  qemuPids(): number[];
  /** Destroys every guest, stops the daemon, kills any QEMU left, removes the directory. */
  stop(): Promise<void>;
  output(): string;
}

export interface GuestSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly diskBytes: number;
  readonly mac: string;
  /** Index into `taps`. */
  readonly tap: number;
}

export function guestXml(g: GuestSpec, disk: string, tap: string): string {
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>${String(g.memoryMiB)}</memory>
  <vcpu>${String(g.vcpus)}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'>
      <mac address='${g.mac}'/>
      <target dev='${tap}' managed='no'/>
      <model type='virtio'/>
    </interface>
    <memballoon model='virtio'><stats period='1'/></memballoon>
    <video><model type='none'/></video>
  </devices>
</domain>
`;
}

async function until(what: string, ms: number, check: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(ms)} ms\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts the daemon; `taps` tap devices are created in its namespace. Needs root (for the
 * namespace and the switch to `nobody`).
 */
export async function startQemuDaemon(taps = 1): Promise<QemuDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-qemu-'));
  chmodSync(dir, 0o755);
  for (const d of ['cfg/libvirt', 'run', 'cache', 'data', 'sock']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cfg/libvirt/libvirtd.conf'), `unix_sock_dir = "${dir}/sock"\n`);
  // QEMU's output to plain files: no virtlogd process to start or to clean up.
  writeFileSync(join(dir, 'cfg/libvirt/qemu.conf'), 'stdio_handler = "file"\n');
  spawnSync('chown', ['-R', `${String(NOBODY)}:${String(NOBODY)}`, dir]);
  const tapNames = Array.from({ length: taps }, (_, i) => `tap${String(i)}`);
  const env = [
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    `HOME=${dir}`,
    `XDG_CONFIG_HOME=${dir}/cfg`,
    `XDG_RUNTIME_DIR=${dir}/run`,
    `XDG_CACHE_HOME=${dir}/cache`,
    `XDG_DATA_HOME=${dir}/data`,
  ];
  const script = [
    'set -e',
    'ip link set lo up',
    ...tapNames.flatMap((t) => [`ip tuntap add dev ${t} mode tap user ${String(NOBODY)}`, `ip link set ${t} up`]),
    `exec setpriv --reuid=${String(NOBODY)} --regid=${String(NOBODY)} --clear-groups ` +
      '--inh-caps=+dac_override --ambient-caps=+dac_override ' +
      `env -i ${env.join(' ')} libvirtd -f ${dir}/cfg/libvirt/libvirtd.conf`,
  ].join('\n');
  const child: ChildProcess = spawn('unshare', ['--net', 'sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const uri = `qemu+unix:///session?socket=${dir}/sock/libvirt-sock`;
  const virsh = (...args: string[]): string => {
    const r = spawnSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const guests: string[] = [];
  const runDir = join(dir, 'run/libvirt/qemu/run');
  const pidsOf = (): number[] =>
    guests
      .map((g) => join(runDir, `${g}.pid`))
      .filter((f) => existsSync(f))
      .map((f) => Number(readFileSync(f, 'utf8').trim()))
      .filter((pid) => pid > 0);
  const known = new Set<number>();
  const stop = async (): Promise<void> => {
    for (const pid of pidsOf()) known.add(pid);
    for (const g of guests) spawnSync('virsh', ['-q', '-c', uri, 'destroy', g], { encoding: 'utf8' });
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    for (const pid of known) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await until('QEMU processes gone', 30_000, () => [...known].every((p) => !alive(p)), () => output);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      'libvirtd socket',
      30_000,
      () => {
        if (child.exitCode !== null) throw new Error(`libvirtd exited (${String(child.exitCode)}):\n${output}`);
        return existsSync(join(dir, 'sock/libvirt-sock'));
      },
      () => output,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    uri,
    dir,
    taps: tapNames,
    virsh,
    output: () => output,
    qemuPids: pidsOf,
    stop,
    async startGuest(g) {
      const disk = join(dir, `${g.name}.raw`);
      writeFileSync(disk, '');
      spawnSync('truncate', ['-s', String(g.diskBytes), disk]);
      chownSync(disk, NOBODY, NOBODY);
      const xml = join(dir, `${g.name}.xml`);
      writeFileSync(xml, guestXml(g, disk, tapNames[g.tap] ?? 'tap0'));
      virsh('define', xml);
      guests.push(g.name);
      virsh('start', g.name);
      await until('QEMU pid file', 30_000, () => existsSync(join(runDir, `${g.name}.pid`)), () => output);
      for (const pid of pidsOf()) known.add(pid);
    },
  };
}
