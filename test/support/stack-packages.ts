/**
 * The packages a host collector (procfs, cgroups, process → prometheus, csv) imports at start,
 * with what they import in turn: the stack every collector pays for. `test/startup-modules.test.ts`
 * checks that a host collector loads these and no other package; `bench/agent-memory.bench.ts`
 * measures the floor process that imports them and does nothing else.
 */
export const STACK_PACKAGES: readonly string[] = [
  '@opentelemetry/api',
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-metrics',
  'commander',
  'pino',
  'yaml',
  'zod',
];

/** What the {@link STACK_PACKAGES} import themselves (a host collector loads these too). */
export const STACK_DEPENDENCIES: readonly string[] = [
  '@opentelemetry/semantic-conventions',
  '@pinojs/redact',
  'atomic-sleep',
  'on-exit-leak-free',
  'pino-std-serializers',
  'quick-format-unescaped',
  'safe-stable-stringify',
  'sonic-boom',
  'thread-stream',
];
