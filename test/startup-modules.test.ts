import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Which packages a running collector has loaded, recorded by module hooks in the child
// (both `import` and `require`), printed at exit.
const MAIN = join(import.meta.dirname, '..', 'service', 'main.ts');
const HOOK = `
import { registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
const packages = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
    if (m) packages.add(m[1]);
    return result;
  },
});
process.on('exit', () => writeSync(2, 'LOADED ' + JSON.stringify([...packages].sort()) + '\\n'));
`;

/** Packages that only some components need, and that cost memory and start-up time. */
const HEAVY = [
  '@grpc/grpc-js',
  '@kubernetes/client-node',
  '@opentelemetry/otlp-transformer',
  'koffi',
  'net-snmp',
  'protobufjs',
];

const dir = mkdtempSync(join(tmpdir(), 'inframeter-modules-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const hook = join(dir, 'hook.mjs');
writeFileSync(hook, HOOK);

/** Runs the CLI on `config` until it says it started, stops it, and returns what it loaded. */
async function loadedPackages(name: string, config: string): Promise<string[]> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, config);
  const child = spawn(process.execPath, ['--import', hook, MAIN, 'run', '--config', path], {
    // The heap flags re-execute Node.js; the hook is on the command line either way, but
    // one process keeps the test simple.
    env: { ...process.env, INFRAMETER_HEAP_FLAGS: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('Press Ctrl-C to stop.')) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, stderr).toBe(0);
  const line = /^LOADED (.*)$/m.exec(stderr);
  if (line?.[1] === undefined) throw new Error(`no LOADED line in ${stderr}`);
  return JSON.parse(line[1]) as string[];
}

describe('packages loaded at start', () => {
  it('a host collector (procfs, cgroups, process to Prometheus and CSV) loads none of the heavy ones', async () => {
    const loaded = await loadedPackages(
      'host',
      `
receivers:
  procfs: {}
  cgroups: {}
  process: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
  csv: { path: ${JSON.stringify(join(dir, 'out.csv'))} }
service:
  pipelines:
    metrics: { receivers: [procfs, cgroups, process], exporters: [prometheus, csv] }
`,
    );
    expect(loaded).toContain('@opentelemetry/sdk-metrics');
    expect(loaded).toContain('yaml');
    expect(loaded.filter((p) => HEAVY.includes(p))).toEqual([]);
  }, 30_000);

  it('an OTLP/gRPC receiver loads gRPC when it starts', async () => {
    const loaded = await loadedPackages(
      'otlp',
      `
receivers:
  otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" } } }
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`,
    );
    expect(loaded).toContain('@grpc/grpc-js');
  }, 30_000);
});
