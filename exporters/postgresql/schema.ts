import type pg from 'pg';
import type { Logger } from '../../kit/logger.ts';
import { StoreError } from './errors.ts';

/**
 * kwollect's database schema, created on a database that has no `metrics` table: the table
 * (kwollect's columns, primary key and indexes), the `metrics_by_device` and `metrics_by_job`
 * views, the `nodetime_per_job` table that a site or an OAR sync fills, `promoted_metrics`,
 * and the API functions PostgREST serves from the `api` schema (`rpc/get_metrics`,
 * `rpc/insert_metrics`). Plain PostgreSQL; `metrics` becomes a hypertable when the TimescaleDB
 * extension is installed (or available and installable by the user).
 *
 * A database that already has a `metrics` table is never changed.
 */

/** The tables, indexes and views, in creation order. */
export const SCHEMA_TABLES = `
CREATE TABLE IF NOT EXISTS metrics (
  "timestamp" timestamptz      NOT NULL DEFAULT now(),
  device_id   text             NOT NULL,
  metric_id   text             NOT NULL,
  value       double precision DEFAULT 'NaN',
  labels      jsonb            NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY ("timestamp", device_id, metric_id, labels)
);

CREATE INDEX IF NOT EXISTS metrics_device_idx ON metrics (device_id, "timestamp" DESC);
CREATE INDEX IF NOT EXISTS metrics_alias_idx ON metrics ((labels ->> '_device_alias'), "timestamp" DESC)
  WHERE labels ? '_device_alias';

CREATE TABLE IF NOT EXISTS promoted_metrics (
  device_id text NOT NULL,
  -- A regular expression matched against metric ids; NULL promotes every optional metric.
  metric_id text DEFAULT NULL
);

-- One row per node of a job; stop_time is NULL while the job runs.
CREATE TABLE IF NOT EXISTS nodetime_per_job (
  job_id     integer     NOT NULL,
  start_time timestamptz NOT NULL,
  stop_time  timestamptz,
  node       text        NOT NULL,
  PRIMARY KEY (job_id, node)
);
CREATE INDEX IF NOT EXISTS nodetime_per_job_node_idx ON nodetime_per_job (node, start_time);

-- Every row under its device, and once more under its _device_alias (values of the devices
-- sharing an alias summed, their ids in _device_orig).
CREATE OR REPLACE VIEW metrics_by_device AS
  SELECT m."timestamp", m.device_id, m.metric_id, m.value, m.labels - '_device_alias' AS labels
    FROM metrics m
  UNION ALL
  SELECT m."timestamp", m.labels ->> '_device_alias' AS device_id, m.metric_id, sum(m.value) AS value,
         (m.labels || jsonb_build_object('_device_orig', array_agg(m.device_id))) - '_device_alias' AS labels
    FROM metrics m
   WHERE m.labels ? '_device_alias'
   GROUP BY m."timestamp", m.metric_id, m.labels;

-- The rows of each job's nodes (devices or aliases) while the job ran.
CREATE OR REPLACE VIEW metrics_by_job AS
  SELECT d."timestamp", d.device_id, d.metric_id, d.value, d.labels,
         j.start_time, j.stop_time, j.job_id
    FROM nodetime_per_job j
    JOIN LATERAL (
      SELECT m."timestamp", m.device_id, m.metric_id, m.value, m.labels - '_device_alias' AS labels
        FROM metrics m
       WHERE m.device_id = j.node
         AND m."timestamp" > j.start_time
         AND (j.stop_time IS NULL OR m."timestamp" < j.stop_time)
      UNION ALL
      SELECT m."timestamp", m.labels ->> '_device_alias', m.metric_id, sum(m.value),
             (m.labels || jsonb_build_object('_device_orig', array_agg(m.device_id))) - '_device_alias'
        FROM metrics m
       WHERE m.labels ? '_device_alias'
         AND m.labels ->> '_device_alias' = j.node
         AND m."timestamp" > j.start_time
         AND (j.stop_time IS NULL OR m."timestamp" < j.stop_time)
       GROUP BY m."timestamp", m.metric_id, m.labels
    ) d ON true;
`;

/**
 * The API: `api.get_metrics` answers kwollect's queries (devices or nodes as comma-separated
 * lists, FQDNs cut to their first label; a time window that ends now and lasts 5 minutes by
 * default; times as ISO dates or Unix seconds; a job restricts to its nodes and its span,
 * narrowed further by start_time/end_time when given); `api.insert_metrics` inserts one row.
 */
export const SCHEMA_API = `
CREATE SCHEMA IF NOT EXISTS api;

CREATE OR REPLACE FUNCTION api.get_metrics(
  job_id     integer DEFAULT NULL,
  nodes      text    DEFAULT NULL,
  devices    text    DEFAULT NULL,
  metrics    text    DEFAULT NULL,
  start_time text    DEFAULT NULL,
  end_time   text    DEFAULT NULL
) RETURNS SETOF metrics
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $get_metrics$
DECLARE
  wanted_devices text[];
  wanted_metrics text[];
  t_start timestamptz;
  t_end timestamptz;
  s text := nullif(btrim(get_metrics.start_time), '');
  e text := nullif(btrim(get_metrics.end_time), '');
BEGIN
  SELECT array_agg(split_part(btrim(d), '.', 1)) INTO wanted_devices
    FROM unnest(string_to_array(concat_ws(',', get_metrics.nodes, get_metrics.devices), ',')) AS d
   WHERE btrim(d) <> '';
  SELECT array_agg(btrim(m)) INTO wanted_metrics
    FROM unnest(string_to_array(get_metrics.metrics, ',')) AS m
   WHERE btrim(m) <> '';
  IF get_metrics.job_id IS NULL AND wanted_devices IS NULL THEN
    RAISE EXCEPTION 'Missing ''devices'', ''nodes'' or ''job_id'' argument';
  END IF;
  -- Unix seconds or anything timestamptz reads.
  t_start := CASE WHEN s IS NULL THEN NULL
                  WHEN s ~ '^-?[0-9]+([.][0-9]*)?$' THEN to_timestamp(s::double precision)
                  ELSE s::timestamptz END;
  t_end := CASE WHEN e IS NULL THEN NULL
                WHEN e ~ '^-?[0-9]+([.][0-9]*)?$' THEN to_timestamp(e::double precision)
                ELSE e::timestamptz END;
  IF get_metrics.job_id IS NOT NULL THEN
    RETURN QUERY
      SELECT j."timestamp", j.device_id, j.metric_id, j.value, j.labels
        FROM metrics_by_job j
       WHERE j.job_id = get_metrics.job_id
         AND (wanted_devices IS NULL OR j.device_id = ANY (wanted_devices))
         AND (wanted_metrics IS NULL OR j.metric_id = ANY (wanted_metrics))
         AND (t_start IS NULL OR j."timestamp" >= t_start)
         AND (t_end IS NULL OR j."timestamp" <= t_end)
       ORDER BY j."timestamp";
  ELSE
    t_end := coalesce(t_end, now());
    t_start := coalesce(t_start, t_end - interval '5 minutes');
    RETURN QUERY
      SELECT d."timestamp", d.device_id, d.metric_id, d.value, d.labels
        FROM metrics_by_device d
       WHERE d.device_id = ANY (wanted_devices)
         AND (wanted_metrics IS NULL OR d.metric_id = ANY (wanted_metrics))
         AND d."timestamp" >= t_start
         AND d."timestamp" <= t_end
       ORDER BY d."timestamp";
  END IF;
END;
$get_metrics$;

CREATE OR REPLACE FUNCTION api.insert_metrics(
  device_id   text,
  metric_id   text,
  "timestamp" timestamptz      DEFAULT now(),
  value       double precision DEFAULT 'NaN',
  labels      jsonb            DEFAULT '{}'::jsonb
) RETURNS SETOF metrics
LANGUAGE sql
SET search_path FROM CURRENT
AS $insert_metrics$
  INSERT INTO metrics ("timestamp", device_id, metric_id, value, labels)
  VALUES (insert_metrics."timestamp", insert_metrics.device_id, insert_metrics.metric_id,
          insert_metrics.value, insert_metrics.labels)
  RETURNING *;
$insert_metrics$;
`;

/** The columns the exporter writes; an existing `metrics` table must have them all. */
const REQUIRED_COLUMNS = ['timestamp', 'device_id', 'metric_id', 'value', 'labels'];

/**
 * kwollect's column types, as `format_type` names them: the types COPY's binary form is
 * written for (copy-binary.ts).
 */
const KWOLLECT_TYPES: readonly (readonly [string, string])[] = [
  ['timestamp', 'timestamp with time zone'],
  ['device_id', 'text'],
  ['metric_id', 'text'],
  ['value', 'double precision'],
  ['labels', 'jsonb'],
];

/** The COPY form rows are written in, and why. */
export interface CopyFormat {
  readonly binary: boolean;
  readonly reason: string;
}

/**
 * Reads the types of `metrics`' columns: binary COPY when they are exactly kwollect's, text
 * otherwise (a site whose table has, say, `value real` or `labels json`: text is converted by
 * the server into whatever the column is, binary is not).
 */
export async function copyFormat(client: pg.ClientBase): Promise<CopyFormat> {
  const columns = await client.query<{ attname: string; type: string }>(
    `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = to_regclass('metrics') AND attnum > 0 AND NOT attisdropped`,
  );
  const types = new Map(columns.rows.map((r) => [r.attname, r.type]));
  const other = KWOLLECT_TYPES.filter(([column, type]) => types.get(column) !== type).map(
    ([column, type]) => `${column} is ${types.get(column) ?? 'missing'}, not ${type}`,
  );
  return other.length === 0
    ? { binary: true, reason: "the metrics columns have kwollect's types" }
    : { binary: false, reason: other.join('; ') };
}

/** Serialises schema creation between exporters (and inframeter processes) on one database. */
const SCHEMA_LOCK = 7_301_845_210_433n;

/** What {@link ensureSchema} found or did. */
export type SchemaOutcome = 'created' | 'created-hypertable' | 'existing';

/**
 * Makes sure the database has kwollect's schema: leaves an existing `metrics` table alone
 * (checking it has the columns written), or creates everything in one transaction under an
 * advisory lock, so that two exporters starting at once create it once.
 */
export async function ensureSchema(
  client: pg.ClientBase,
  create: boolean,
  logger: Logger,
): Promise<SchemaOutcome> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK.toString()]);
    const found = await client.query<{ oid: string | null }>("SELECT to_regclass('metrics')::oid AS oid");
    const oid = found.rows[0]?.oid ?? null;
    if (oid !== null) {
      const columns = await client.query<{ attname: string }>(
        'SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped',
        [oid],
      );
      const have = new Set(columns.rows.map((r) => r.attname));
      const lacking = REQUIRED_COLUMNS.filter((c) => !have.has(c));
      if (lacking.length > 0)
        throw new StoreError(`the existing metrics table has no column ${lacking.join(', ')}`, false);
      await client.query('COMMIT');
      return 'existing';
    }
    if (!create)
      throw new StoreError('the database has no metrics table (and create_schema is false)', false);
    await client.query(SCHEMA_TABLES);
    const hypertable = await makeHypertable(client, logger);
    await client.query(SCHEMA_API);
    await client.query('COMMIT');
    return hypertable ? 'created-hypertable' : 'created';
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Turns `metrics` into a TimescaleDB hypertable (12-hour chunks, as kwollect sets up) when the
 * extension is installed, or available and installable here. False: plain PostgreSQL.
 *
 * Without TimescaleDB's default index on `"timestamp" DESC`: the primary key begins with
 * `"timestamp"` and serves time ranges in either order, so that index would only cost every
 * insert one more index entry per row.
 */
async function makeHypertable(client: pg.ClientBase, logger: Logger): Promise<boolean> {
  const installed = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
  if (installed.rowCount === 0) {
    const available = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'");
    if (available.rowCount === 0) return false;
    await client.query('SAVEPOINT timescaledb');
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT timescaledb');
      logger.warn(
        { err: error },
        'TimescaleDB is available but could not be installed: metrics stays a plain table',
      );
      return false;
    }
  }
  await client.query(
    `SELECT create_hypertable('metrics', 'timestamp', chunk_time_interval => interval '12 hours',
                              create_default_indexes => false, if_not_exists => true)`,
  );
  return true;
}
