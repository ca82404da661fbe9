import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Debian's snmpd on a loopback UDP port of its own, with the lab configuration of
 * `snmpd/` (a copy of the project testbed's snmpd.conf and pass.sh), as RECIPES.md describes.
 */

export const SNMPD = '/usr/sbin/snmpd';
export const SNMPGET = '/usr/bin/snmpget';
export const SNMPBULKWALK = '/usr/bin/snmpbulkwalk';

const CONFIG_DIR = join(import.meta.dirname, 'snmpd');

/** True when Debian's `snmpd` and `snmp` packages are installed. */
export function hasSnmpd(): boolean {
  return existsSync(SNMPD) && existsSync(SNMPGET);
}

/** A running snmpd. */
export interface RunningSnmpd {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** The file pass.sh reads for .1.3.6.1.4.1.99999.1.1.0 (1234 while absent). */
  readonly pduPowerFile: string;
  stop(): Promise<void>;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => {
        resolve(port);
      });
    });
  });
}

function snmpgetAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      SNMPGET,
      ['-v2c', '-c', 'public', '-t', '0.2', '-r', '0', `127.0.0.1:${port}`, '.1.3.6.1.2.1.1.5.0'],
      (error) => {
        resolve(error === null);
      },
    );
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts snmpd with the lab configuration plus `extraConfig` lines, on a free port, and
 * resolves once snmpget gets an answer. Stop it with `stop()` (by its PID).
 */
export async function startSnmpd(options: { extraConfig?: string } = {}): Promise<RunningSnmpd> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-snmpd-'));
  mkdirSync(join(dir, 'persist'));
  const port = await freeUdpPort();
  const config = readFileSync(join(CONFIG_DIR, 'snmpd.conf'), 'utf8')
    .replaceAll('@DIR@', dir)
    .replace('udp:127.0.0.1:16161', `udp:127.0.0.1:${port}`);
  writeFileSync(join(dir, 'snmpd.conf'), `${config}\n${options.extraConfig ?? ''}\n`);
  writeFileSync(join(dir, 'pass.sh'), readFileSync(join(CONFIG_DIR, 'pass.sh'), 'utf8').replaceAll('@DIR@', dir), {
    mode: 0o755,
  });
  const child = spawn(
    SNMPD,
    ['-f', '-Lo', '-C', '-c', join(dir, 'snmpd.conf'), '-m', '', '-p', join(dir, 'snmpd.pid')],
    { env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir, 'persist') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const collect = (chunk: Buffer): void => {
    if (log.length < 10_000) log += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const pid = child.pid;
  const stop = async (): Promise<void> => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(child, 5000))) process.kill(pid, 'SIGKILL');
      await waitForExit(child, 5000);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || pid === undefined) break;
    if (await snmpgetAnswers(port)) return { port, pid, dir, pduPowerFile: join(dir, 'pdu_power'), stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`snmpd did not answer on 127.0.0.1:${port}:\n${log}`);
}

/** The extra configuration that makes snmpd serve a PDU's MIB (`apc-rpdu` or `raritan-px`). */
export function pduConfig(name: 'apc-rpdu' | 'raritan-px'): string {
  return readFileSync(join(CONFIG_DIR, `${name}.conf`), 'utf8');
}
