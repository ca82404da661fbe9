import { ExportResultCode } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import type {
  ExporterFactory,
  Factory,
  ProcessorFactory,
  ReceiverFactory,
  Scraper,
} from '../../kit/component.ts';
import { registerFactory } from '../../kit/component.ts';
import { duration, scraperOptions } from '../../kit/config-types.ts';
import type { MetricMetadata } from '../../kit/metadata.ts';
import { countPoints } from '../../kit/metrics-data.ts';
import { createScraperReceiver } from '../../kit/scrape-controller.ts';
import { SnapshotSet } from '../../kit/snapshot-set.ts';
import { withPointAttributes } from '../../extensions/experiments/labels.ts';

/** What the test components saw, for assertions. */
export interface TestStore {
  /** Batches received by each memory exporter id. */
  readonly exported: Map<string, ResourceMetrics[]>;
  /** Lifecycle events in order: `start exporter memory`, `shutdown receiver ticker`, … */
  readonly events: string[];
}

const TICKS: MetricMetadata = {
  name: 'test.ticks',
  instrument: 'counter',
  unit: '{tick}',
  description: 'Ticks.',
  attributes: ['source'],
  group: 'ticks',
  enabled: true,
};

/** A scraper whose counter `test.ticks` goes up by `step` on every scrape. */
export function createTickScraper(step: number, failEvery = 0): Scraper {
  let ticks = 0;
  let scrapes = 0;
  return {
    metricProducer: new SnapshotSet(
      'inframeter/receiver/ticker',
      [TICKS],
      () => true,
      (set) => {
        set.observe('test.ticks', ticks, { source: 'a' });
      },
    ).producer,
    scrape() {
      scrapes += 1;
      ticks += step;
      const errors = new Map<string, Error>();
      if (failEvery > 0 && scrapes % failEvery === 0) errors.set('/dev/broken', new Error('broken source'));
      return Promise.resolve({ errors });
    },
  };
}

/**
 * A receiver `ticker`, a processor `tag` that adds an attribute value to the resource, and an
 * exporter `memory` that keeps batches: enough to test the service without real sources.
 */
export function createTestFactories(store: TestStore): Factory[] {
  const ticker: ReceiverFactory<{
    step: number;
    fail_every: number;
    collection_interval: number;
    initial_delay: number;
    timeout?: number | undefined;
  }> = {
    kind: 'receiver',
    type: 'ticker',
    stability: 'development',
    description: 'Counts scrapes.',
    configSchema: z.strictObject({
      step: z.number().int().positive().default(1),
      fail_every: z.number().int().default(0),
      ...scraperOptions,
    }),
    create(settings, config) {
      const receiver = createScraperReceiver(
        settings,
        config,
        createTickScraper(config.step, config.fail_every),
      );
      return {
        async start(next) {
          store.events.push(`start receiver ${settings.id}`);
          await receiver.start(next);
        },
        async shutdown() {
          store.events.push(`shutdown receiver ${settings.id}`);
          await receiver.shutdown();
        },
      };
    },
  };
  const memory: ExporterFactory<{ fail: boolean; delay: number }> = {
    kind: 'exporter',
    type: 'memory',
    stability: 'development',
    description: 'Keeps batches in memory.',
    configSchema: z.strictObject({ fail: z.boolean().default(false), delay: duration().default(0) }),
    create(settings, config) {
      const batches: ResourceMetrics[] = [];
      store.exported.set(settings.id, batches);
      return {
        start() {
          store.events.push(`start exporter ${settings.id}`);
          return Promise.resolve();
        },
        export(batch, callback) {
          setTimeout(() => {
            if (config.fail) {
              callback({ code: ExportResultCode.FAILED, error: new Error('memory exporter set to fail') });
              return;
            }
            batches.push(batch);
            callback({ code: ExportResultCode.SUCCESS });
          }, config.delay);
        },
        forceFlush() {
          store.events.push(`flush exporter ${settings.id}`);
          return Promise.resolve();
        },
        shutdown() {
          store.events.push(`shutdown exporter ${settings.id}`);
          return Promise.resolve();
        },
        describe() {
          return `memory (${settings.id})`;
        },
      };
    },
  };
  const tag: ProcessorFactory<{ value: string }> = {
    kind: 'processor',
    type: 'tag',
    stability: 'development',
    description: 'Adds a data point attribute tag=value.',
    configSchema: z.strictObject({ value: z.string() }),
    create(settings, config, next) {
      return {
        export(batch, callback) {
          next.export(withPointAttributes(batch, { tag: config.value }), callback);
        },
        forceFlush: () => next.forceFlush(),
        shutdown() {
          store.events.push(`shutdown processor ${settings.id}`);
          return Promise.resolve();
        },
      };
    },
  };
  return [registerFactory(ticker), registerFactory(memory), registerFactory(tag)];
}

/** A fresh store. */
export function createTestStore(): TestStore {
  return { exported: new Map(), events: [] };
}

/** Total points a memory exporter received. */
export function exportedPoints(store: TestStore, id: string): number {
  return (store.exported.get(id) ?? []).reduce((sum, batch) => sum + countPoints(batch), 0);
}
