import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { poll } from './peers.ts';

const BMC = join(import.meta.dirname, '..', '..', 'receivers', 'ipmi', 'testdata', 'bmc');

/** The lab BMC of receivers/ipmi/testdata/bmc, served by OpenIPMI's ipmi_sim on loopback. */
export interface IpmiSim {
  readonly port: number;
  readonly dir: string;
  /** Writes the raw value the power sensor polls (watts = raw × 2). */
  setPowerRaw(raw: number): void;
  stop(): void;
}

/** True when UDP `port` and TCP `port + 1` (the BMC and its console) can be bound on loopback now. */
async function portsFree(port: number): Promise<boolean> {
  const udp = createSocket('udp4');
  const tcp = createServer();
  const bound = await Promise.all([
    new Promise<boolean>((resolve) => {
      udp.once('error', () => {
        resolve(false);
      });
      udp.bind(port, '127.0.0.1', () => {
        resolve(true);
      });
    }),
    new Promise<boolean>((resolve) => {
      tcp.once('error', () => {
        resolve(false);
      });
      tcp.listen(port + 1, '127.0.0.1', () => {
        resolve(true);
      });
    }),
  ]);
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        udp.close(() => {
          resolve();
        });
      } catch {
        resolve();
      }
    }),
    new Promise<void>((resolve) => {
      if (!tcp.listening) resolve();
      else
        tcp.close(() => {
          resolve();
        });
    }),
  ]);
  return bound.every(Boolean);
}

/**
 * Starts the lab BMC on a free port pair. Ports are drawn below Linux's ephemeral range and
 * checked first; should another process take the port in between (ipmi_sim then exits), the
 * BMC is started again on another.
 */
export async function startIpmiSim(): Promise<IpmiSim> {
  let failures = 0;
  for (let draw = 1; ; draw += 1) {
    const port = 20000 + 2 * Math.floor(Math.random() * 6000);
    if (draw < 50 && !(await portsFree(port))) continue;
    try {
      return await startIpmiSimOn(port);
    } catch (error) {
      failures += 1;
      if (failures >= 5) throw error;
    }
  }
}

async function startIpmiSimOn(port: number): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-ipmi-sim-'));
  const source = (name: string): string => readFileSync(join(BMC, name), 'utf8');
  writeFileSync(
    join(dir, 'lan.conf'),
    source('lan.conf')
      .replace('@PORT@', String(port))
      .replace('@CONSOLE@', String(port + 1)),
  );
  writeFileSync(join(dir, 'labbmc.emu'), source('labbmc.emu').replaceAll('@DIR@', dir));
  writeFileSync(join(dir, 'power.raw'), '125\n');
  mkdirSync(join(dir, 'state', 'ipmi_sim', 'labbmc'), { recursive: true });
  mkdirSync(join(dir, 'probe'));
  const sdr = spawnSync(
    'sdrcomp',
    ['-8', '-o', join(dir, 'state', 'ipmi_sim', 'labbmc', 'sdr.20.main'), join(BMC, 'labbmc.sdrs')],
    { encoding: 'utf8' },
  );
  if (sdr.status !== 0) throw new Error(`sdrcomp: ${sdr.stderr}`);
  const sim = spawn(
    'ipmi_sim',
    ['-n', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'labbmc.emu'), '-s', join(dir, 'state')],
    { stdio: 'ignore' },
  );
  // ipmi_sim exits at once when its port is taken: that ends the wait, and another port is tried.
  const exited = new Promise<never>((_, reject) => {
    sim.once('exit', (code) => {
      reject(new Error(`ipmi_sim exited with ${String(code)} on port ${String(port)}`));
    });
  });
  exited.catch(() => undefined);
  const answering = poll('ipmi_sim answering', 30_000, () => {
    const r = spawnSync(
      'ipmi-sensors',
      [
        '-h',
        `127.0.0.1:${String(port)}`,
        '-u',
        'admin',
        '-p',
        'password',
        '-D',
        'LAN_2_0',
        '-W',
        'opensesspriv',
        `--sdr-cache-directory=${join(dir, 'probe')}`,
        '--quiet-cache',
        '--comma-separated-output',
      ],
      { encoding: 'utf8', timeout: 5000 },
    );
    return Promise.resolve(r.status === 0 && r.stdout.includes('Inlet Temp') ? true : undefined);
  });
  try {
    await Promise.race([answering, exited]);
  } catch (error) {
    sim.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    dir,
    setPowerRaw: (raw) => {
      writeFileSync(join(dir, 'power.raw'), `${String(raw)}\n`);
    },
    stop: () => {
      sim.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
