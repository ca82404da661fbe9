/**
 * How far below the floor of the stack loading less would take a collector: the resident
 * memory of idle Node processes that import less and less of the stack.
 *
 *   node bench/stack-floor.bench.ts [--rounds 3]
 *
 * Each step is one process, started with the heap flags and the malloc settings of
 * `inframeter run` (service/heap-flags.ts), that imports the packages of its step (file URLs
 * resolved here), listens with an idle HTTP server, and answers one request with its
 * `process.memoryUsage()`; its VmRSS is read two seconds after that (the process idle). The
 * steps add, in order: nothing (a bare HTTP server), the OpenTelemetry packages a collector's
 * data model needs (`@opentelemetry/api`, `core`, `resources`, `sdk-metrics`), then the
 * configuration, logging and command-line packages (zod, yaml, pino, commander): the last step
 * is the floor of bench/agent-memory.bench.ts (test/support/stack-packages.ts). The steps run
 * interleaved for `--rounds` rounds; each row quotes the largest RSS of its rounds, with the
 * load average of that round, and its ratio to the floor's largest.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HEAP_FLAGS, HEAP_FLAGS_APPLIED, heapFlagsEnv } from '../service/heap-flags.ts';
import { STACK_PACKAGES } from '../test/support/stack-packages.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds: expected a positive integer');
const MIB = 1024 * 1024;

const OTEL = [
  '@opentelemetry/api',
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-metrics',
];
const STEPS: readonly { name: string; packages: readonly string[] }[] = [
  { name: 'bare Node, idle HTTP server', packages: [] },
  { name: '+ OpenTelemetry (api, core, resources, sdk-metrics)', packages: OTEL },
  { name: '+ zod', packages: [...OTEL, 'zod'] },
  { name: '+ yaml', packages: [...OTEL, 'zod', 'yaml'] },
  { name: '+ pino, commander (= the floor)', packages: STACK_PACKAGES },
];
if (STEPS.at(-1)?.packages.length !== new Set([...OTEL, 'zod', 'yaml', 'pino', 'commander']).size)
  throw new Error('the last step must import the stack packages and nothing else');

const SCRIPT = `
import { createServer } from 'node:http';
for (const url of process.argv.slice(2)) await import(url);
const server = createServer((req, res) => {
  const m = process.memoryUsage();
  res.end(JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

interface Reading {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  load1: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(script: string, packages: readonly string[]): Promise<Reading> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== HEAP_FLAGS_APPLIED));
  const urls = packages.map((p) => import.meta.resolve(p));
  const child = spawn(process.execPath, [...HEAP_FLAGS, script, ...urls], {
    env: heapFlagsEnv(env),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => {
        resolve(Number(chunk.toString().trim()));
      });
      child.once('exit', (code) => {
        reject(new Error(`a step exited with code ${String(code)}`));
      });
    });
    const m = (await (await fetch(`http://127.0.0.1:${String(port)}/`)).json()) as {
      heapUsed: number;
      heapTotal: number;
    };
    await sleep(2000);
    const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
    return {
      rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024,
      heapUsedMiB: m.heapUsed / MIB,
      heapTotalMiB: m.heapTotal / MIB,
      load1: loadavg()[0] ?? 0,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

const dir = mkdtempSync(join(tmpdir(), 'inframeter-stack-floor-'));
try {
  const script = join(dir, 'step.mjs');
  writeFileSync(script, SCRIPT);
  const worst: (Reading | undefined)[] = STEPS.map(() => undefined);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, step] of STEPS.entries()) {
      const reading = await measure(script, step.packages);
      const before = worst[i];
      if (before === undefined || reading.rssMiB > before.rssMiB) worst[i] = reading;
    }
  }
  const floor = worst.at(-1);
  if (floor === undefined) throw new Error('no reading');
  console.log(
    `stack floor: idle processes importing part of the stack, ${String(ROUNDS)} interleaved rounds, flags ${HEAP_FLAGS.join(' ')}`,
  );
  console.log('| step | RSS MiB (largest of the rounds) | × the floor | heap used / committed MiB | load |');
  console.log('|---|---|---|---|---|');
  for (const [i, step] of STEPS.entries()) {
    const r = worst[i];
    if (r === undefined) continue;
    console.log(
      `| ${step.name} | ${r.rssMiB.toFixed(1)} | ${(r.rssMiB / floor.rssMiB).toFixed(2)} | ` +
        `${r.heapUsedMiB.toFixed(1)} / ${r.heapTotalMiB.toFixed(1)} | ${r.load1.toFixed(1)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
