import { pino } from 'pino';

/** Structured logger (pino): a child per component, errors under `err`, secrets redacted. */
export type Logger = pino.Logger;

/** Log levels accepted by `--log-level` and `service.telemetry.logs.level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Creates the root logger. Logs go to stderr as JSON lines so that stdout stays for what the
 * user asked for (addresses, validation results).
 */
export function createLogger(
  level: LogLevel = 'info',
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['password', 'community', '*.password', '*.community', 'auth', '*.auth'],
        censor: '[REDACTED]',
      },
    },
    destination,
  );
}

/** A logger that discards everything, for tests and embedding. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
