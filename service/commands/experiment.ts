import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { TargetOptions } from '../../extensions/experiments/client.ts';

/** Options every `inframeter experiment` command shares: where the collectors are. */
export interface ReachOptions {
  hosts?: string;
  hostsFile?: string;
  proxy?: string;
  k8sSelector?: string;
  namespace?: string;
  k8sPort?: string;
  token?: string;
}

function targetOptions(o: ReachOptions): TargetOptions {
  const token = o.token ?? process.env.INFRAMETER_TOKEN;
  if (token === undefined || token === '') throw new Error('no token: pass --token or set INFRAMETER_TOKEN');
  if (o.k8sSelector !== undefined) {
    return {
      token,
      k8s: { selector: o.k8sSelector, namespace: o.namespace ?? 'default', port: Number(o.k8sPort ?? 9470) },
    };
  }
  const hosts = [
    ...(o.hosts ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== ''),
    ...(o.hostsFile === undefined
      ? []
      : readFileSync(o.hostsFile, 'utf8')
          .split('\n')
          .map((l) => l.replace(/#.*/, '').trim())
          .filter((l) => l !== '')),
  ];
  return { token, hosts, ...(o.proxy === undefined ? {} : { proxy: o.proxy }) };
}

/** "1 host", "3 hosts". */
function hosts(n: number): string {
  return `${String(n)} ${n === 1 ? 'host' : 'hosts'}`;
}

function report(
  results: readonly { target: string; ok: boolean; error?: string; note?: string }[],
  verb: string,
  out: Writable,
): number {
  const failed = results.filter((r) => !r.ok);
  for (const r of results)
    out.write(
      `${r.ok ? 'ok    ' : 'FAILED'} ${r.target}${r.ok ? (r.note === undefined ? '' : ` (${r.note})`) : `: ${r.error ?? 'unknown error'}`}\n`,
    );
  out.write(`${verb}: ${String(results.length - failed.length)} of ${hosts(results.length)}\n`);
  return failed.length === 0 ? 0 : 1;
}

export async function experimentStart(
  name: string,
  o: ReachOptions & { label?: string[]; interval?: string; receivers?: string },
  out: Writable,
): Promise<number> {
  const client = await import('../../extensions/experiments/client.ts');
  const labels: Record<string, string> = {};
  for (const l of o.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`--label ${l}: expected key=value`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const targets = await client.resolveTargets(targetOptions(o));
  const results = await client.startAll(targets, name, {
    labels,
    ...(o.interval === undefined ? {} : { interval: o.interval }),
    ...(o.receivers === undefined ? {} : { receivers: o.receivers.split(',') }),
  });
  return report(results, `started ${name}`, out);
}

export async function experimentList(o: ReachOptions, out: Writable): Promise<number> {
  const client = await import('../../extensions/experiments/client.ts');
  const targets = await client.resolveTargets(targetOptions(o));
  const results = await client.listAll(targets);
  for (const r of results) {
    if (!r.ok) continue;
    for (const e of (
      r.body as { experiments: { name: string; state: string; size: number; started_at: string }[] }
    ).experiments) {
      out.write(`${r.target}\t${e.name}\t${e.state}\t${String(e.size)} B\tstarted ${e.started_at}\n`);
    }
  }
  return report(results, 'listed', out);
}

/** Deletes a stopped experiment everywhere; a collector that no longer has it is fine. */
export async function experimentDelete(name: string, o: ReachOptions, out: Writable): Promise<number> {
  const client = await import('../../extensions/experiments/client.ts');
  const targets = await client.resolveTargets(targetOptions(o));
  const results = (await client.deleteAll(targets, name)).map((r) =>
    r.status === 404 ? { ...r, ok: true, note: 'had no such experiment' } : r,
  );
  return report(results, `deleted ${name}`, out);
}

/**
 * Progress of the downloads: bars on a terminal; in a pipe or a file, one plain line per host
 * when its download ends (bars there would print their template or control codes).
 */
async function progressFor(
  names: readonly string[],
  err: Writable & { isTTY?: boolean },
): Promise<{ update: (host: string, bytes: number, total: number) => void; stop: () => void }> {
  if (err.isTTY !== true) {
    const done = new Set<string>();
    return {
      update: (host, bytes, total) => {
        if (done.has(host) || total <= 0 || bytes < total) return;
        done.add(host);
        err.write(
          `fetched ${host}: ${bytes.toLocaleString('en-US')} bytes (${String(done.size)}/${String(names.length)})\n`,
        );
      },
      stop: () => undefined,
    };
  }
  const { MultiBar, Presets } = await import('cli-progress');
  const bars = new MultiBar(
    { format: ' {bar} {percentage}% | {value}/{total} B | {host}', stream: err, hideCursor: true },
    Presets.shades_classic,
  );
  const byHost = new Map(names.map((n) => [n, bars.create(1, 0, { host: n })]));
  return {
    update: (host, bytes, total) => {
      const bar = byHost.get(host);
      if (bar === undefined) return;
      if (total > 0) bar.setTotal(total);
      bar.update(bytes, { host });
    },
    stop: () => {
      bars.stop();
    },
  };
}

/** Stops `name` everywhere (unless `stop` is false), then pulls and merges the results. */
export async function experimentCollect(
  name: string,
  o: ReachOptions & { out: string },
  stop: boolean,
  out: Writable,
  err: Writable & { isTTY?: boolean },
): Promise<number> {
  const client = await import('../../extensions/experiments/client.ts');
  const { formatOf } = await import('../../extensions/experiments/merge.ts');
  formatOf(o.out);
  const targets = await client.resolveTargets(targetOptions(o));
  let code = 0;
  let stopFailures = 0;
  let reachable = targets;
  if (stop) {
    // Stopping is idempotent on the collectors: a stopped experiment, or one a restart
    // interrupted, answers as it is and its results are pulled like the others.
    const stopped = await client.stopAll(targets, name);
    const failed = stopped.filter((r) => !r.ok);
    for (const r of failed) out.write(`FAILED ${r.target}: stop: ${r.error ?? 'unknown error'}\n`);
    if (failed.length > 0) code = 1;
    stopFailures = failed.length;
    reachable = targets.filter((t) => !failed.some((f) => f.target === t.name));
  }
  const progress = await progressFor(
    reachable.map((t) => t.name),
    err,
  );
  const { results, rows } = await client.pullAll(reachable, name, o.out, progress.update);
  progress.stop();
  code = Math.max(
    code,
    report(
      results,
      `results of ${name} merged into ${o.out} (${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'})`,
      out,
    ),
  );
  if (code !== 0) {
    const failures = stopFailures + results.filter((r) => !r.ok).length;
    out.write(
      `run the same command again once the failed ${failures === 1 ? 'host answers' : 'hosts answer'}: it stops what still runs and fetches only what is missing\n`,
    );
  }
  return code;
}
