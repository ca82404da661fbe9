import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IpmiToolRunner } from '../receivers/ipmi/client.ts';
import { spawnRunner } from '../receivers/ipmi/client.ts';
import { configSchema as ipmiConfig } from '../receivers/ipmi/config.ts';
import { IpmiScraper } from '../receivers/ipmi/scraper.ts';
import type { MisbehavingPeer } from './support/misbehaving-peers.ts';
import { startTcpPeer, startUdpPeer } from './support/misbehaving-peers.ts';
import { freePort, missing, poll } from './support/peers.ts';

// Secrets never leave the process: the real CLI runs with a BMC password, an SNMP community
// and an OTLP bearer token taken from its environment, against peers that never answer (so
// that `ipmi-sensors` runs long enough to be seen and every error path is taken), at debug
// log level. None of the secrets may appear in any process's command line (`ps`), in the
// environment of any of its children, in its logs, in its own telemetry, or in what it
// prints.

const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const SECRETS = {
  // What FreeIPMI's config file must quote and escape: a space, `#`, a backslash and `"`.
  INFRAMETER_TEST_BMC_PASSWORD: 'Bmc s3cr#t\\"Q7x',
  INFRAMETER_TEST_COMMUNITY: 'community-s3cr3t-K2',
  INFRAMETER_TEST_TOKEN: 'token-s3cr3t-Z9w',
};
const values = Object.values(SECRETS);

/** The secrets found in `text`, as they are or escaped as in a JSON string (logs). */
function leaks(text: string): string[] {
  return values.filter((v) => text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1)));
}

/** Pids of `root` and all its descendants (Linux /proc). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone between the listing and the read.
    }
  }
  const found = [root];
  for (let i = 0; i < found.length; i++)
    for (const [pid, ppid] of parents) if (ppid === found[i]) found.push(pid);
  return found;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${String(pid)}/${file}`, 'latin1');
  } catch {
    return '';
  }
}

const skip = missing('ipmi-sensors', 'freeipmi-tools');
const peers: MisbehavingPeer[] = [];
const dirs: string[] = [];
let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill('SIGKILL');
  for (const p of peers) await p.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip)('secrets', () => {
  it('FreeIPMI gets the BMC password from a 0600 file, never as an argument', async () => {
    const bmc = await startUdpPeer('silent');
    peers.push(bmc);
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-secrets-'));
    dirs.push(dir);
    const runs: { args: readonly string[]; files: { path: string; mode: number; text: string }[] }[] = [];
    // FreeIPMI scrubs `-p` from its argv once parsed, so `ps` alone could miss the window
    // before: the arguments themselves are checked.
    const recording: IpmiToolRunner = {
      run(program, args, timeoutMs) {
        const files = args
          .filter((a) => a.startsWith('--config-file='))
          .map((a) => a.slice('--config-file='.length))
          .map((path) => ({ path, mode: statSync(path).mode & 0o777, text: readFileSync(path, 'utf8') }));
        runs.push({ args, files });
        return spawnRunner.run(program, args, timeoutMs);
      },
    };
    const scraper = new IpmiScraper(
      ipmiConfig.parse({
        username: 'admin',
        password: SECRETS.INFRAMETER_TEST_BMC_PASSWORD,
        bmc_timeout: '500ms',
        sdr_cache_directory: join(dir, 'sdr'),
        targets: [{ host: `127.0.0.1:${String(bmc.port)}`, name: 'silent-bmc' }],
      }),
      recording,
    );
    const report = await scraper.scrape();
    expect(leaks([...report.errors.values()].map((e) => e.message).join('\n'))).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(leaks(runs[0]?.args.join(' ') ?? '')).toEqual([]);
    expect(runs[0]?.files).toEqual([
      {
        path: expect.any(String) as string,
        mode: 0o600,
        // Quoted, with the backslash, `#` and `"` escaped: FreeIPMI reads back the password.
        text: 'password "Bmc s3cr\\#t\\\\\\"Q7x"\n',
      },
    ]);
    const file = runs[0]?.files[0]?.path ?? '';
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    await scraper.shutdown();
    expect(existsSync(file)).toBe(false);
  });

  it('appear nowhere: ps, children’s environments, logs, errors, own telemetry, output', async () => {
    const bmc = await startUdpPeer('silent');
    const snmp = await startUdpPeer('silent');
    const otlp = await startTcpPeer('silent');
    peers.push(bmc, snmp, otlp);
    const telemetryPort = await freePort();
    const controlPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-secrets-'));
    dirs.push(dir);
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `receivers:
  ipmi:
    collection_interval: 3s
    bmc_timeout: 2500ms
    username: admin
    password: \${env:INFRAMETER_TEST_BMC_PASSWORD}
    sdr_cache_directory: ${join(dir, 'sdr')}
    targets: [{ host: "127.0.0.1:${String(bmc.port)}", name: silent-bmc }]
  snmp:
    collection_interval: 3s
    auth:
      campus:
        version: v2c
        community: \${env:INFRAMETER_TEST_COMMUNITY}
    targets:
      - { name: silent-pdu, address: "127.0.0.1:${String(snmp.port)}", auth: campus, timeout: 500ms, retries: 1, profiles: [if_mib] }
exporters:
  otlp:
    endpoint: http://127.0.0.1:${String(otlp.port)}
    protocol: http/protobuf
    timeout: 1s
    headers:
      authorization: "Bearer \${env:INFRAMETER_TEST_TOKEN}"
extensions:
  experiments:
    endpoint: 127.0.0.1:${String(controlPort)}
    bearer_token: \${env:INFRAMETER_TEST_TOKEN}
    directory: ${join(dir, 'experiments')}
service:
  extensions: [experiments]
  telemetry:
    logs: { level: debug }
    metrics: { address: "127.0.0.1:${String(telemetryPort)}" }
  pipelines:
    metrics: { receivers: [ipmi, snmp], exporters: [otlp] }
`,
    );
    // `validate` prints the configuration it understood: secrets redacted.
    const validated = spawnSync(process.execPath, [MAIN, 'validate', '--config', config], {
      encoding: 'utf8',
      env: { ...process.env, ...SECRETS },
    });
    expect(validated.status, validated.stderr).toBe(0);
    expect(leaks(validated.stdout + validated.stderr)).toEqual([]);

    let output = '';
    const collector = spawn(process.execPath, [MAIN, 'run', '--config', config], {
      env: { ...process.env, ...SECRETS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = collector;
    collector.stdout.on('data', (c: Buffer) => (output += c.toString()));
    collector.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const pid = collector.pid ?? 0;

    // While ipmi-sensors waits on the silent BMC: every command line on the machine, and
    // the environment of every process the collector started.
    // The collector's start is in it: 60 s, as collectors.start gives one.
    const seen = await poll('ipmi-sensors running under the collector', 60_000, () => {
      const running = descendants(pid).some((p) => readProc(p, 'cmdline').startsWith('ipmi-sensors'));
      const ps = spawnSync('ps', ['-eo', 'pid,args', '--no-headers'], { encoding: 'utf8' }).stdout;
      return Promise.resolve(running ? ps : undefined);
    });
    expect(leaks(seen)).toEqual([]);
    const children = descendants(pid).filter((p) => p !== pid);
    expect(children.length).toBeGreaterThan(0);
    for (const p of children) {
      expect(leaks(readProc(p, 'cmdline')), `cmdline of ${String(p)}`).toEqual([]);
      expect(leaks(readProc(p, 'environ')), `environment of ${String(p)}`).toEqual([]);
    }

    // Its own telemetry, once the failing BMC, PDU and export have been counted.
    const metrics = await poll('own telemetry', 30_000, async () => {
      const text = await fetch(`http://127.0.0.1:${String(telemetryPort)}/metrics`).then((r) => r.text());
      return text.includes('ipmi') ? text : undefined;
    });
    expect(leaks(metrics)).toEqual([]);
    // The control API's answers: right token, wrong token, a refused proxy target.
    const control = `http://127.0.0.1:${String(controlPort)}`;
    const answers = await Promise.all(
      [
        ['/experiments', SECRETS.INFRAMETER_TEST_TOKEN],
        ['/ping', 'wrong'],
        ['/proxy/127.0.0.9:9/ping', SECRETS.INFRAMETER_TEST_TOKEN],
        ['/experiments/%zz', SECRETS.INFRAMETER_TEST_TOKEN],
      ].map(async ([path = '', token = '']) => {
        const res = await fetch(`${control}${path}`, { headers: { authorization: `Bearer ${token}` } });
        return `${String(res.status)} ${JSON.stringify([...res.headers])} ${await res.text()}`;
      }),
    );
    expect(answers.map((a) => a.slice(0, 3))).toEqual(['200', '401', '403', '400']);
    expect(leaks(answers.join('\n'))).toEqual([]);
    // The errors of every failing path have been logged.
    await poll('errors logged', 30_000, () =>
      Promise.resolve(/silent-bmc/.test(output) && /silent-pdu/.test(output) ? true : undefined),
    );

    collector.kill('SIGTERM');
    await poll('collector stopped', 30_000, () =>
      Promise.resolve(collector.exitCode !== null || collector.signalCode !== null ? true : undefined),
    );
    expect(leaks(output)).toEqual([]);
    // The password files FreeIPMI read are gone with the collector.
    expect(output).not.toContain('inframeter-ipmi-');
  }, 180_000);
});
