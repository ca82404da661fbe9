import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { poll } from '../test/support/peers.ts';
import {
  decideHeapPolicy,
  HEAP_FLAGS,
  HEAP_FLAGS_APPLIED,
  heapFlagsArgv,
  heapFlagsEnv,
  INGEST_HEAP_FLAGS,
  ingestHeapFlagsApply,
  LARGE_SCRAPE_HEAP_FLAGS,
  LARGE_SCRAPE_SERIES,
  largeScrapeHeapFlagsApplied,
  largeScrapeWatch,
} from './heap-flags.ts';

const MAIN = join(import.meta.dirname, 'main.ts');

const argv = ['/usr/bin/node', '/app/dist/service/main.js', 'run', '--config', 'c.yaml'];

describe('heap flags of inframeter run', () => {
  it('re-executes `run` with the flags before the user’s Node.js options and the script', () => {
    expect(heapFlagsArgv(argv, ['--enable-source-maps'], {})).toEqual([
      process.execPath,
      ...HEAP_FLAGS,
      '--enable-source-maps',
      '/app/dist/service/main.js',
      'run',
      '--config',
      'c.yaml',
    ]);
  });

  it('leaves other commands, chosen heap flags, a re-executed process and `off` alone', () => {
    expect(
      heapFlagsArgv(['/usr/bin/node', 'main.js', 'results', 'summary', 'x.csv'], [], {}),
    ).toBeUndefined();
    expect(heapFlagsArgv(argv, ['--max-old-space-size=512'], {})).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { NODE_OPTIONS: '--max-semi-space-size=8' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { INFRAMETER_HEAP_FLAGS_APPLIED: '1' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { INFRAMETER_HEAP_FLAGS: 'off' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { NODE_OPTIONS: '--enable-source-maps' })).toHaveLength(
      HEAP_FLAGS.length + argv.length,
    );
  });

  it('changes the growing step for ingest only over the flags `run` set itself', () => {
    expect(ingestHeapFlagsApply({ [HEAP_FLAGS_APPLIED]: '1' })).toBe(true);
    // V8's defaults (`off`), the user's own heap flags (no re-execution), or a bench/test process.
    expect(ingestHeapFlagsApply({})).toBe(false);
    expect(ingestHeapFlagsApply({ INFRAMETER_HEAP_FLAGS: 'off' })).toBe(false);
  });

  it("limits malloc arenas and fixes malloc's mmap threshold in the re-executed process unless the user chose them", () => {
    expect(heapFlagsEnv({ PATH: '/bin' })).toEqual({
      PATH: '/bin',
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      [HEAP_FLAGS_APPLIED]: '1',
    });
    expect(heapFlagsEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
    expect(heapFlagsEnv({ MALLOC_MMAP_THRESHOLD_: '1048576' }).MALLOC_MMAP_THRESHOLD_).toBe('1048576');
  });

  it('decides the run-time flags once from the configured receivers: a gateway, large scrapes, or none', () => {
    const own = { [HEAP_FLAGS_APPLIED]: '1' };
    expect(decideHeapPolicy(['procfs', 'snmp'], own)).toMatchObject({ policy: 'default', flags: undefined });
    expect(decideHeapPolicy(['procfs', 'cgroups'], own)).toMatchObject({
      policy: 'large-scrapes',
      flags: LARGE_SCRAPE_HEAP_FLAGS,
    });
    expect(decideHeapPolicy(['process'], own).flags).toBe(LARGE_SCRAPE_HEAP_FLAGS);
    // A gateway's change takes precedence over the large scrapes'.
    expect(decideHeapPolicy(['cgroups', 'otlp'], own)).toMatchObject({
      policy: 'gateway',
      flags: INGEST_HEAP_FLAGS,
    });
    // Not over heap flags the user chose (no re-execution by `run`), nor with V8's defaults.
    expect(decideHeapPolicy(['otlp', 'cgroups'], {}).flags).toBeUndefined();
    expect(decideHeapPolicy(['otlp'], { INFRAMETER_HEAP_FLAGS: 'off' }).flags).toBeUndefined();
  });

  it('under the large-scrapes policy, takes the larger step from the first batch of a cgroups, process or kubevirt receiver that reaches the threshold', () => {
    /** A batch of `count` points. */
    const batchOf = (count: number): ResourceMetrics => ({
      resource: resourceFromAttributes({}),
      scopeMetrics: [
        {
          scope: { name: 'test' },
          metrics: [
            {
              descriptor: { name: 'g', unit: '', description: '', valueType: ValueType.DOUBLE },
              dataPointType: DataPointType.GAUGE,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPoints: Array.from({ length: count }, () => ({
                startTime: [0, 0],
                endTime: [0, 0],
                attributes: {},
                value: 1,
              })),
            },
          ],
        },
      ],
    });
    const receivers = new Map([
      ['procfs', 'procfs'],
      ['cgroups/k8s', 'cgroups'],
    ]);
    const own = { [HEAP_FLAGS_APPLIED]: '1' };
    // No watch for a procfs collector or a gateway, nor over heap flags the user chose.
    expect(largeScrapeWatch(decideHeapPolicy(['procfs'], own), receivers)).toBeUndefined();
    expect(largeScrapeWatch(decideHeapPolicy(['otlp', 'cgroups'], own), receivers)).toBeUndefined();
    expect(largeScrapeWatch(decideHeapPolicy(['cgroups'], {}), receivers)).toBeUndefined();
    const policy = decideHeapPolicy(['procfs', 'cgroups'], own);
    expect(policy).toMatchObject({ policy: 'large-scrapes', from: 'first-large-scrape' });
    const watch = largeScrapeWatch(policy, receivers);
    if (watch === undefined) throw new Error('no watch');
    expect(watch('cgroups/k8s', batchOf(LARGE_SCRAPE_SERIES - 1))).toBe(false);
    // A procfs batch, however large, is not a large scrape of the watched kind.
    expect(watch('procfs', batchOf(LARGE_SCRAPE_SERIES))).toBe(false);
    expect(largeScrapeHeapFlagsApplied()).toBe(false);
    expect(watch('cgroups/k8s', batchOf(LARGE_SCRAPE_SERIES))).toBe(true);
    expect(largeScrapeHeapFlagsApplied()).toBe(true);
    // Once.
    expect(watch('cgroups/k8s', batchOf(LARGE_SCRAPE_SERIES))).toBe(false);
  });

  describe('inframeter run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-heap-'));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    /**
     * Runs the CLI as users do (the entry point re-executes Node.js with the heap flags) on a
     * config with `receivers`, until it says it started; returns its logged heap policy.
     */
    async function loggedPolicy(
      name: string,
      receivers: string,
      list: string,
    ): Promise<Record<string, unknown>> {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(
        path,
        [
          'receivers:',
          receivers,
          'exporters:',
          `  csv: { path: ${JSON.stringify(join(dir, `${name}.csv`))} }`,
          'service:',
          '  telemetry: { logs: { level: debug } }',
          `  pipelines: { metrics: { receivers: [${list}], exporters: [csv] } }`,
          '',
        ].join('\n'),
      );
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const key of [HEAP_FLAGS_APPLIED, 'INFRAMETER_HEAP_FLAGS', 'NODE_OPTIONS'])
        Reflect.deleteProperty(env, key);
      const child = spawn(process.execPath, [MAIN, 'run', '--config', path], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        await poll(`collector ${name} started`, 90_000, () =>
          Promise.resolve(
            output.includes('Press Ctrl-C') ? true : child.exitCode !== null ? output : undefined,
          ),
        );
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited, output).toBe(0);
      const line = output.split('\n').find((l) => l.includes('"msg":"V8 heap policy"'));
      if (line === undefined) throw new Error(`no heap policy in the output:\n${output}`);
      return JSON.parse(line) as Record<string, unknown>;
    }

    it('sets the ingest flags at start when the config has an otlp receiver, none without, and arms the large-scrape step for cgroups', async () => {
      const [gateway, host, containers] = await Promise.all([
        loggedPolicy('gateway', '  otlp: { protocols: { http: { endpoint: "127.0.0.1:0" } } }', 'otlp'),
        loggedPolicy('host', '  procfs: { collection_interval: 1h }', 'procfs'),
        loggedPolicy('containers', '  cgroups: { collection_interval: 1h }', 'cgroups'),
      ]);
      expect(gateway).toMatchObject({ policy: 'gateway', flags: INGEST_HEAP_FLAGS, from: 'start' });
      expect(host).toMatchObject({ policy: 'default' });
      expect(host.flags).toBeUndefined();
      // A cgroups receiver: the larger step is armed, taken from the first large scrape.
      expect(containers).toMatchObject({
        policy: 'large-scrapes',
        flags: LARGE_SCRAPE_HEAP_FLAGS,
        from: 'first-large-scrape',
      });
    }, 180_000);
  });
});
