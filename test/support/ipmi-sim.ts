import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

export async function startIpmiSim(): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-ipmi-sim-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
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
  await poll('ipmi_sim answering', 15_000, () => {
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
