import type { Writable } from 'node:stream';
import { formatHostPort } from '../../kit/config-types.ts';
import { toError } from '../../kit/errors.ts';
import type { Logger, LogLevel } from '../../kit/logger.ts';
import { createLogger } from '../../kit/logger.ts';
import { applyHeapPolicy, largeScrapeWatch } from '../heap-flags.ts';
import { createCollectorResource } from '../resource.ts';
import { Service } from '../service.ts';
import { describeSource, loadCollectorConfig } from './load.ts';

/** Options of `inframeter run`. */
export interface RunOptions {
  config?: string | undefined;
  /** A kwollector configuration file, run as it is (service/kwollector-config.ts). */
  kwollectorConfig?: string | undefined;
  /** A kwollector-wattmetre configuration file, frames read on standard input. */
  kwollectorWattmetreConfig?: string | undefined;
  logLevel?: LogLevel | undefined;
}

/**
 * `inframeter run`: validates the config, starts the service, prints where each exporter
 * sends data, and stops cleanly on SIGINT or SIGTERM (a second signal exits at once).
 * Resolves with the exit code when the collector has stopped.
 */
export async function runCommand(options: RunOptions, out: Writable): Promise<number> {
  const source = {
    config: options.config,
    kwollector: options.kwollectorConfig,
    kwollectorWattmetre: options.kwollectorWattmetreConfig,
  };
  const config = await loadCollectorConfig(source);
  const logger: Logger = createLogger(options.logLevel ?? config.telemetry.logLevel);
  for (const warning of config.warnings) logger.warn(`configuration: ${warning}`);
  // The heap policy, decided once from the configuration, before any component exists.
  const receiverTypes = new Map([...config.receivers].map(([id, r]) => [id, r.factory.type]));
  const heap = applyHeapPolicy(receiverTypes.values());
  logger.debug(
    { policy: heap.policy, flags: heap.flags, from: heap.from, reason: heap.reason },
    'V8 heap policy',
  );
  const watch = largeScrapeWatch(heap, receiverTypes);
  const service = new Service(
    config,
    logger,
    createCollectorResource(config.telemetry.resource),
    watch === undefined
      ? {}
      : {
          onReceived: (id, batch) => {
            if (watch(id, batch))
              logger.debug({ flags: heap.flags, receiver: id }, 'V8 heap flags for large scrapes');
          },
        },
  );

  const onUnexpected = (kind: string) => (error: unknown) => {
    // A bug in a callback must not take the whole collector down: log it and keep serving.
    logger.error({ err: toError(error) }, `${kind}: the collector keeps running`);
  };
  process.on('uncaughtException', onUnexpected('uncaught exception'));
  process.on('unhandledRejection', onUnexpected('unhandled rejection'));

  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });
  // Keeps the event loop alive while the collector runs; every component timer is unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      resolveStopped(130);
      return;
    }
    logger.info({ signal }, 'shutting down: flushing exporters (send the signal again to exit at once)');
    service.shutdown().then(
      () => {
        resolveStopped(0);
      },
      (error: unknown) => {
        logger.error({ err: toError(error) }, 'shutdown failed');
        resolveStopped(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await service.start();
  } catch (error) {
    clearInterval(keepAlive);
    logger.fatal({ err: toError(error) }, 'collector failed to start');
    out.write(`inframeter: ${toError(error).message}\n`);
    return 1;
  }
  const lines = [`inframeter running (${describeSource(source)})`];
  for (const [id, exporter] of service.exporters()) {
    const where = exporter.describe?.();
    if (where !== undefined) lines.push(`  exporter ${id}: ${where}`);
  }
  for (const [id, where] of service.extensionAddresses()) lines.push(`  extension ${id}: ${where}`);
  const telemetry = service.telemetryAddress;
  if (telemetry !== undefined) {
    const base = `http://${formatHostPort(telemetry)}`;
    lines.push(`  own metrics: ${base}/metrics  health: ${base}/healthz  ready: ${base}/readyz`);
  }
  lines.push('Press Ctrl-C to stop.');
  out.write(`${lines.join('\n')}\n`);
  const code = await stopped;
  clearInterval(keepAlive);
  return code;
}
