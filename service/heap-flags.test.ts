import type { Attributes } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestSettings } from '../test/support/settings.ts';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { SnapshotProducer } from '../kit/snapshot-producer.ts';
import {
  HEAP_FLAGS,
  HEAP_FLAGS_APPLIED,
  heapFlagsArgv,
  heapFlagsEnv,
  ingestHeapFlagsApply,
  LARGE_SCRAPE_SERIES,
  largeScrapeHeapFlagsApplied,
} from './heap-flags.ts';

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

  it('limits malloc arenas in the re-executed process unless the user chose a number', () => {
    expect(heapFlagsEnv({ PATH: '/bin' })).toEqual({
      PATH: '/bin',
      MALLOC_ARENA_MAX: '2',
      [HEAP_FLAGS_APPLIED]: '1',
    });
    expect(heapFlagsEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });

  describe('large scrapes', () => {
    afterEach(() => {
      Reflect.deleteProperty(process.env, HEAP_FLAGS_APPLIED);
    });

    /** A runner whose scrapes make `count` series. */
    const runnerOf = (count: number): ScrapeRunner => {
      const attributes: Attributes[] = Array.from({ length: count }, (_, i) => ({ i }));
      const gauge = {
        name: 'test.gauge',
        instrument: 'gauge',
        unit: '1',
        description: 'a gauge',
        attributes: [],
        group: 'g',
        enabled: true,
      } as const;
      const producer = new SnapshotProducer(
        'test/scope',
        [gauge],
        () => true,
        (p) => {
          for (const a of attributes) p.observe('test.gauge', 1, a);
        },
      );
      return new ScrapeRunner(
        {
          register: () => undefined,
          metricProducer: producer,
          scrape: () => Promise.resolve({ errors: new Map() }),
        },
        createTestSettings('test', 'receiver'),
      );
    };

    it('take the larger growing step from the first scrape that reaches the threshold, over `run`’s flags only', async () => {
      // Not over heap flags the user chose (no re-execution by `run`).
      await runnerOf(LARGE_SCRAPE_SERIES).run(10_000);
      expect(largeScrapeHeapFlagsApplied()).toBe(false);
      process.env[HEAP_FLAGS_APPLIED] = '1';
      await runnerOf(LARGE_SCRAPE_SERIES - 1).run(10_000);
      expect(largeScrapeHeapFlagsApplied()).toBe(false);
      await runnerOf(LARGE_SCRAPE_SERIES).run(10_000);
      expect(largeScrapeHeapFlagsApplied()).toBe(true);
    });
  });
});
