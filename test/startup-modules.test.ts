import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { STACK_DEPENDENCIES, STACK_PACKAGES } from './support/stack-packages.ts';

// Which packages and which component folders a running collector has loaded, recorded by
// module hooks in the child (both `import` and `require`), printed at exit.
const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
const HOOK = `
import { registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
const packages = new Set();
const components = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
    if (m) packages.add(m[1]);
    else if (result.url.startsWith(${JSON.stringify(pathToFileURL(ROOT).href)})) {
      const c = /\\/((?:receivers|processors|exporters|extensions)\\/[^/]+)\\//.exec(result.url);
      if (c) components.add(c[1]);
    }
    return result;
  },
});
process.on('exit', () =>
  writeSync(2, 'LOADED ' + JSON.stringify({ packages: [...packages].sort(), components: [...components].sort() }) + '\\n'),
);
`;

/** Packages that only some components need, and that cost memory and start-up time. */
const HEAVY = [
  '@grpc/grpc-js',
  '@kubernetes/client-node',
  '@opentelemetry/otlp-transformer',
  'koffi',
  'net-snmp',
  'pg',
  'pg-copy-streams',
  'protobufjs',
  'snappy',
];

/** What a running collector loaded: packages (node_modules) and component folders. */
interface Loaded {
  packages: string[];
  components: string[];
}

const dir = mkdtempSync(join(tmpdir(), 'inframeter-modules-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const hook = join(dir, 'hook.mjs');
writeFileSync(hook, HOOK);

/** Runs the CLI on `config` until it says it started, stops it, and returns what it loaded. */
async function loadedModules(name: string, config: string): Promise<Loaded> {
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
  return JSON.parse(line[1]) as Loaded;
}

describe('packages loaded at start', () => {
  it('a host collector (procfs, cgroups, process to Prometheus and CSV) loads none of the heavy ones', async () => {
    const { packages: loaded, components } = await loadedModules(
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
    // Exactly the stack the memory bench's floor imports, and only the components configured.
    expect(loaded).toEqual([...STACK_PACKAGES, ...STACK_DEPENDENCIES].sort());
    expect(components).toEqual([
      'exporters/csv',
      'exporters/prometheus',
      'receivers/cgroups',
      'receivers/process',
      'receivers/procfs',
    ]);
  }, 90_000);

  it('a procfs-only collector loads no other component', async () => {
    const { components } = await loadedModules(
      'procfs',
      `
receivers:
  procfs: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [procfs], exporters: [prometheus] }
`,
    );
    expect(components).toEqual(['exporters/prometheus', 'receivers/procfs']);
  }, 90_000);

  it('an OTLP/gRPC receiver loads gRPC when it starts', async () => {
    const { packages: loaded } = await loadedModules(
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
  }, 90_000);
});
