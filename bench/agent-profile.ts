/**
 * Where the node agent's CPU goes in the scrape rows of bench/agent.bench.ts: the built
 * collector measured exactly as in those rows (bench/support/node-agent.ts, procfs every
 * 10 ms into the prometheus exporter, window A without fetches, window B with /metrics
 * fetched once per scrape), run with `--cpu-prof`; prints the row's figures, then the main
 * thread's samples by what they were doing (garbage collection, gzip, the HTTP exchange, the
 * exposition's rendering, the scrape and what it feeds, Node's timers and the rest), over the
 * whole life of the process:
 *
 *   npm run build && node bench/agent-profile.ts [--fetches 200] [--keep DIR]
 *
 * `--keep DIR` leaves the .cpuprofile there (open it in Chrome's DevTools).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { load1, measureOurs, requireBuild } from './support/node-agent.ts';

const { values: args } = parseArgs({
  options: { fetches: { type: 'string', default: '200' }, keep: { type: 'string' } },
});
requireBuild();
const fetches = Number(args.fetches);
const dir = args.keep ?? mkdtempSync(join(tmpdir(), 'inframeter-agent-profile-'));
mkdirSync(dir, { recursive: true });

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What a sample was doing, from the frame it was in and the frames above it. */
const CATEGORIES: readonly (readonly [string, RegExp])[] = [
  ['garbage collection', /^\(garbage collector\)/],
  ['gzip', /node:zlib|gzip/],
  ['exposition rendering', /exporters\/prometheus\/(series-lines|planned-bytes)|kit\/prometheus\/exposition/],
  ['HTTP exchange', /node:_http|node:net|stream_base|node:internal\/streams|prometheus\/server/],
  ['scrape, SDK and store', /receivers\/|kit\/|exporters\/prometheus\/|service\/|@opentelemetry/],
  ['timers, promises, V8 (program)', /node:internal\/timers|task_queues|\(program\)/],
];

/** Frames of Node's start and module loader: what runs under them is the start. */
const STARTUP = /^node:internal\/(modules|main|bootstrap)\//;

function breakdown(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => `${n.callFrame.functionName} ${n.callFrame.url}`;
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (frame !== undefined) stack.push(frame);
    }
    return stack;
  };
  const category = (id: number): string => {
    const stack = stackOf(id);
    if (stack[0]?.callFrame.functionName === '(idle)') return 'idle';
    if (stack.some((frame) => STARTUP.test(frame.callFrame.url))) return 'startup, module loading';
    // The innermost frame that matches a category names it.
    for (const frame of stack) {
      for (const [name, pattern] of CATEGORIES) if (pattern.test(label(frame))) return name;
    }
    return 'other';
  };
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = category(id);
    out.set(name, (out.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  });
  return out;
}

try {
  const figures = await measureOurs(fetches, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  console.log(
    `${String(fetches)}-fetch run (load ${load1().toFixed(1)}): ${figures.cpuPerSeriesUs.toFixed(2)} µs per sample; ` +
      `CPU per scrape ${figures.collectMs?.toFixed(3) ?? '-'} ms, per fetch ${figures.fetchMs?.toFixed(3) ?? '-'} ms, ` +
      `${String(figures.series)} series`,
  );
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no CPU profile was written in ${dir}`);
  const byCategory = breakdown(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
  byCategory.delete('idle');
  const total = [...byCategory.values()].reduce((a, b) => a + b, 0);
  console.log(`main thread, whole process life: ${total.toFixed(0)} ms of samples`);
  for (const [name, ms] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    console.log(
      `  ${name.padEnd(32)} ${ms.toFixed(0).padStart(6)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %`,
    );
  }
  if (args.keep !== undefined) console.log(`profile: ${join(dir, file)}`);
} finally {
  if (args.keep === undefined) rmSync(dir, { recursive: true, force: true });
}
