import pg from 'pg';
import type { Logger } from '../../kit/logger.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { toError } from '../../kit/errors.ts';
import type { KwollectConfig, Promotion } from './config.ts';

/** The query kwollect's own collectors make: every promoted (device, metric regex) row. */
const QUERY = 'SELECT device_id::text AS device_id, metric_id::text AS metric_id FROM promoted_metrics';

/**
 * Reads kwollect's `promoted_metrics` table every `promoted_metrics_interval` and hands the
 * rows over. The only I/O of on-demand metrics. A failed read (database down, table
 * missing) is logged once until it recovers and leaves the last rows read in force, so an
 * outage of the database neither starts nor stops any metric.
 */
export class PromotedMetricsReader {
  readonly #pool: pg.Pool;
  readonly #interval: number;
  readonly #onRows: (rows: Promotion[]) => void;
  readonly #errors: ErrorLog;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(config: KwollectConfig, logger: Logger, onRows: (rows: Promotion[]) => void) {
    const timeout = Math.max(1000, Math.min(10_000, config.promoted_metrics_interval));
    this.#pool = new pg.Pool({
      host: config.db_host,
      port: config.db_port,
      database: config.db_name,
      user: config.db_user,
      password: config.db_password?.reveal(),
      max: 1,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      idleTimeoutMillis: 0,
    });
    this.#errors = new ErrorLog(logger);
    // An idle connection that breaks is reported here; the next read reconnects.
    this.#pool.on('error', (error) => {
      this.#errors.report('promoted_metrics', error);
    });
    this.#interval = config.promoted_metrics_interval;
    this.#onRows = onRows;
  }

  /** Reads the table once. */
  async read(): Promise<void> {
    try {
      const result = await this.#pool.query<Promotion>(QUERY);
      this.#errors.recovered('promoted_metrics');
      this.#onRows(result.rows.filter((r) => r.device_id !== '' && r.metric_id !== ''));
    } catch (error) {
      this.#errors.report('promoted_metrics', toError(error));
    }
  }

  /** Reads now, then every interval (never two reads at once). */
  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#inFlight = this.read().finally(() => {
        this.#inFlight = undefined;
        if (this.#stopped) return;
        this.#timer = setTimeout(tick, this.#interval);
        this.#timer.unref();
      });
    };
    tick();
  }

  async shutdown(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#inFlight;
    await this.#pool.end().catch(() => undefined);
  }
}
