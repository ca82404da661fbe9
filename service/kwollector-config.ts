import { readFileSync } from 'node:fs';
import { errorCode } from '../kit/errors.ts';
import { ConfigError } from '../kit/errors.ts';
import { parseYaml } from './config.ts';

/**
 * kwollect's own configuration files, taken as they are by `inframeter run
 * --kwollector-config FILE` and `--kwollector-wattmetre-config FILE`: each stands for the
 * collector configuration that does what that kwollector does, a receiver and the
 * `postgresql` exporter writing into the database the file names.
 *
 * - kwollector (`metrics_dir`, `db_host`, `db_name`, `db_user`, `db_password`, `log_level`):
 *   the `kwollect` receiver with the file's keys (it reads `promoted_metrics` from that
 *   database) → `postgresql`.
 * - kwollector-wattmetre (`wattmetre_id`, `mapping_file_path`, `db_*`, `log_level`): the
 *   `wattmetre` receiver reading frames on standard input, as `wattmetre-read … |
 *   kwollector-wattmetre FILE` does → `postgresql`, with the port's device from the mapping,
 *   else the port (`<wattmetre_id>-port<N>`), as `device_id`.
 *
 * `log_level` (Python's names) becomes the collector's log level. `db_port` may be added
 * (kwollectors always use 5432). Any other key is an error naming the file and the key.
 */

/** Which kwollector a file configures. */
export type KwollectorKind = 'kwollector' | 'kwollector-wattmetre';

const DB_KEYS = ['db_host', 'db_port', 'db_name', 'db_user', 'db_password'] as const;

const KEYS: Record<KwollectorKind, readonly string[]> = {
  kwollector: ['metrics_dir', ...DB_KEYS, 'log_level'],
  'kwollector-wattmetre': ['wattmetre_id', 'mapping_file_path', ...DB_KEYS, 'log_level'],
};

/** Python's logging levels, as kwollectors take them, and the collector's. */
const LOG_LEVELS: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
};

/** The wattmetre receiver's own counters, which kwollector-wattmetre does not store. */
const WATTMETRE_OWN_METRICS = [
  'inframeter.wattmetre.frames',
  'inframeter.wattmetre.gaps',
  'inframeter.wattmetre.restarts',
];

/** Reads a kwollector's file and returns the collector configuration data it stands for. */
export function readKwollectorConfig(kind: KwollectorKind, path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read the ${kind} file (${errorCode(error) ?? String(error)})`], {
      cause: error,
    });
  }
  const { value, problems } = parseYaml(text, path);
  if (problems.length > 0) throw new ConfigError(problems);
  return toCollectorConfig(kind, value, path);
}

/**
 * The collector configuration data of a kwollector's parsed file. Problems of the file's own
 * keys are reported with the file's name; the receiver's and exporter's checks then report
 * theirs under `receivers.kwollect.` / `receivers.wattmetre.` and `exporters.postgresql.`.
 */
export function toCollectorConfig(
  kind: KwollectorKind,
  file: unknown,
  source: string,
): Record<string, unknown> {
  const settings = file ?? {};
  if (typeof settings !== 'object' || Array.isArray(settings))
    throw new ConfigError([
      `${source}: expected ${kind}'s settings, a map of keys (${KEYS[kind].join(', ')})`,
    ]);
  const given = settings as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(given)) {
    if (!KEYS[kind].includes(key))
      problems.push(`${source}: ${key}: not a ${kind} setting (expected ${KEYS[kind].join(', ')})`);
  }
  const level = given.log_level;
  if (level !== undefined && (typeof level !== 'string' || LOG_LEVELS[level.toLowerCase()] === undefined))
    problems.push(`${source}: log_level: expected one of debug, info, warning, error, critical`);
  if (problems.length > 0) throw new ConfigError(problems);

  const database = pick(given, DB_KEYS);
  const receiver =
    kind === 'kwollector'
      ? {
          kwollect: {
            ...pick(given, ['metrics_dir', ...DB_KEYS]),
            // kwollector reads promoted_metrics from its database, localhost by default.
            db_host: given.db_host ?? 'localhost',
            ...(typeof level === 'string' ? { log_level: level.toLowerCase() } : {}),
          },
        }
      : {
          wattmetre: {
            source: { stdin: true },
            ...pick(given, ['wattmetre_id', 'mapping_file_path']),
            metrics: Object.fromEntries(WATTMETRE_OWN_METRICS.map((name) => [name, { enabled: false }])),
          },
        };
  const receiverId = Object.keys(receiver)[0] ?? '';
  const exporter = {
    postgresql: {
      ...database,
      ...(kind === 'kwollector-wattmetre' ? { device_id_attributes: ['device.id', 'hw.id'] } : {}),
    },
  };
  return {
    receivers: receiver,
    exporters: exporter,
    service: {
      ...(typeof level === 'string'
        ? { telemetry: { logs: { level: LOG_LEVELS[level.toLowerCase()] } } }
        : {}),
      pipelines: { metrics: { receivers: [receiverId], exporters: ['postgresql'] } },
    },
  };
}

function pick(from: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (from[key] !== undefined && from[key] !== null) out[key] = from[key];
  return out;
}
