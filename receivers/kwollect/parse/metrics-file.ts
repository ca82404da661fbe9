import { parse as parseYaml } from 'yaml';
import { ParseError } from '../../../kit/errors.ts';

/** kwollect's `update_every` when a metric has none: 10 seconds. */
export const DEFAULT_UPDATE_EVERY = 10_000;

/** One metric of a kwollect `metrics.d` file. */
export interface KwollectMetric {
  readonly name: string;
  readonly deviceId: string;
  readonly url: KwollectUrl;
  /** Milliseconds; kwollect's default is 10 s. */
  readonly updateEvery: number;
  readonly scaleFactor: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly optional: boolean;
  /** `file:index` of the entry, for messages. */
  readonly where: string;
}

export type KwollectUrl =
  | { scheme: 'snmp'; community: string; host: string; port: number; oid: string }
  | {
      scheme: 'ipmisensor';
      user: string;
      password: string;
      host: string;
      port: number | undefined;
      sensor: string;
    }
  | { scheme: 'prometheus'; host: string; port: number; names: string[] };

/**
 * kwollect's metric URLs: `snmp://community@host[:port]/oid`,
 * `ipmisensor://user:password@host[:port]/sensor` (a sensor id or name),
 * `prometheus://host:port/name1-name2` (every family when no names; kwollect separates
 * names with `-`, and `,` is accepted too: neither can occur in a Prometheus name).
 */
export function parseKwollectUrl(text: string): KwollectUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(text)}`);
  }
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  switch (url.protocol) {
    case 'snmp:':
      if (url.username === '')
        throw new Error(`${text}: snmp:// needs a community (snmp://community@host/oid)`);
      if (!/^\.?\d+(\.\d+)+$/.test(path)) throw new Error(`${text}: "${path}" is not a numeric OID`);
      return {
        scheme: 'snmp',
        community: decodeURIComponent(url.username),
        host,
        port: url.port === '' ? 161 : Number(url.port),
        oid: path.replace(/^\./, ''),
      };
    case 'ipmisensor:':
      if (path === '')
        throw new Error(`${text}: ipmisensor:// needs a sensor (ipmisensor://user:password@host/sensor)`);
      return {
        scheme: 'ipmisensor',
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        host,
        port: url.port === '' ? undefined : Number(url.port),
        sensor: path,
      };
    case 'prometheus:':
      if (url.port === '') throw new Error(`${text}: prometheus:// needs host:port`);
      return {
        scheme: 'prometheus',
        host,
        port: Number(url.port),
        names:
          path === ''
            ? []
            : path
                .split(/[-,]/)
                .map((n) => n.trim())
                .filter((n) => n !== ''),
      };
    default:
      throw new Error(`${text}: unknown scheme ${url.protocol} (snmp, ipmisensor or prometheus)`);
  }
}

/** Parses one `metrics.d` file: a YAML list of metrics (or one metric). */
export function parseMetricsFile(text: string, file: string): KwollectMetric[] {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new ParseError(file, 1, `not YAML: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  if (data === null || data === undefined) return [];
  const list = Array.isArray(data) ? (data as unknown[]) : [data];
  return list.map((raw, i) => {
    const where = `${file}[${String(i)}]`;
    if (typeof raw !== 'object' || raw === null)
      throw new ParseError(file, 1, `${where}: expected a map with name, device_id and url`);
    const entry = raw as Record<string, unknown>;
    const text = (key: string): string => {
      const value = entry[key];
      if (typeof value !== 'string' || value === '')
        throw new ParseError(file, 1, `${where}.${key}: required, a string`);
      return value;
    };
    let url: KwollectUrl;
    try {
      url = parseKwollectUrl(text('url'));
    } catch (error) {
      if (error instanceof ParseError) throw error;
      throw new ParseError(file, 1, `${where}.url: ${(error as Error).message}`);
    }
    const updateEvery = entry.update_every ?? DEFAULT_UPDATE_EVERY;
    if (typeof updateEvery !== 'number' || !(updateEvery > 0))
      throw new ParseError(file, 1, `${where}.update_every: a number of milliseconds`);
    const scale = entry.scale_factor ?? 1;
    if (typeof scale !== 'number') throw new ParseError(file, 1, `${where}.scale_factor: a number`);
    const labels = entry.labels ?? {};
    if (typeof labels !== 'object' || Array.isArray(labels))
      throw new ParseError(file, 1, `${where}.labels: a map`);
    return {
      name: text('name'),
      deviceId: text('device_id'),
      url,
      updateEvery,
      scaleFactor: scale,
      labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
      optional: entry.optional === true,
      where,
    };
  });
}
