import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentKind, ComponentSettings, ComponentTelemetry, Scraper } from '../../kit/component.ts';
import { createSilentLogger } from '../../kit/logger.ts';
import { ScrapeRunner } from '../../kit/scrape-controller.ts';
import { SelfTelemetry } from '../../kit/self-telemetry.ts';

/** Totals a component reported to its telemetry, for assertions. */
export interface RecordedTelemetry extends ComponentTelemetry {
  readonly counts: {
    received: number;
    exported: number;
    failed: number;
    dropped: Map<string, number>;
    scrapes: number;
    /** Sources (paths, targets) that failed, summed over the scrapes. */
    failedSources: number;
  };
}

/** Telemetry counters that record into plain numbers. */
export function createRecordingTelemetry(): RecordedTelemetry {
  const counts = {
    received: 0,
    exported: 0,
    failed: 0,
    dropped: new Map<string, number>(),
    scrapes: 0,
    failedSources: 0,
  };
  return {
    counts,
    received: (n) => (counts.received += n),
    exported: (n) => (counts.exported += n),
    failed: (n) => (counts.failed += n),
    dropped: (n, reason) => counts.dropped.set(reason, (counts.dropped.get(reason) ?? 0) + n),
    scraped: (_durationMs, failedSources) => {
      counts.scrapes += 1;
      counts.failedSources += failedSources;
    },
  };
}

/** Settings for a component under test: a silent logger, recording telemetry, a fixed resource. */
export function createTestSettings(
  id: string,
  kind: ComponentKind,
): ComponentSettings & { telemetry: RecordedTelemetry } {
  const resource = resourceFromAttributes({ 'host.name': 'test-host', 'service.name': 'inframeter' });
  return {
    id,
    kind,
    logger: createSilentLogger(),
    telemetry: createRecordingTelemetry(),
    meter: new SelfTelemetry(resource).meter,
    resource,
  };
}

/** Scrapes once and collects: what the scrape controller would push for one tick. */
export async function scrapeOnce(
  scraper: Scraper,
  id = 'test',
  timeoutMs = 10_000,
): Promise<{ batch: ResourceMetrics; errors: ReadonlyMap<string, Error>; runner: ScrapeRunner }> {
  const runner = new ScrapeRunner(scraper, createTestSettings(id, 'receiver'));
  const { batch, report } = await runner.run(timeoutMs);
  return { batch, errors: report.errors, runner };
}
