import type { KwollectMetric, KwollectUrl } from './parse/metrics-file.ts';

/** A receiver config made from kwollect metrics, and the metrics it serves. */
export interface Translated {
  readonly type: 'snmp' | 'ipmi' | 'prometheus';
  readonly config: Record<string, unknown>;
  readonly metrics: readonly KwollectMetric[];
  /**
   * SNMP: the name each entry has inside the snmp receiver (`kwollect.m<N>`), so that any
   * kwollect name runs, whatever the snmp receiver's naming rules and catalogue say.
   */
  readonly internalNames?: ReadonlyMap<KwollectMetric, string>;
}

const group = (
  items: readonly KwollectMetric[],
  key: (m: KwollectMetric) => unknown,
): Map<string, KwollectMetric[]> => {
  const out = new Map<string, KwollectMetric[]>();
  for (const m of items) {
    const k = JSON.stringify(key(m));
    out.set(k, [...(out.get(k) ?? []), m]);
  }
  return out;
};

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const ms = (n: number): string => `${String(n)}ms`;

/**
 * The `device.id` the ipmi receiver gives a BMC of an `ipmisensor://` URL: its host, with
 * the port when the URL names one, so that two BMCs behind one address stay apart.
 */
export function bmcName(url: Extract<KwollectUrl, { scheme: 'ipmisensor' }>): string {
  return url.port === undefined ? url.host : `${url.host}:${String(url.port)}`;
}

function internalName(names: Map<KwollectMetric, string>, m: KwollectMetric, index: number): string {
  const name = `kwollect.m${String(index)}`;
  names.set(m, name);
  return name;
}

/**
 * Per-request SNMP timeout for an interval: half of it, at most 2 s, so that one request
 * (no retry) always ends before the scrape that sent it.
 */
export function snmpTimeout(updateEvery: number): number {
  return Math.max(10, Math.min(2000, Math.floor(updateEvery / 2)));
}

/** Per-BMC timeout for an interval: 80 % of it, at most 10 s. */
export function bmcTimeout(updateEvery: number): number {
  return Math.max(100, Math.min(10_000, Math.floor(updateEvery * 0.8)));
}

/**
 * kwollect metrics as configurations of inframeter's receivers, one receiver per protocol
 * and `update_every`, so every metric is read at its own interval and every timeout is
 * derived from that interval: an snmp receiver per interval (a target per agent, community
 * and device, each with a profile of its OIDs; labels are added to the points afterwards,
 * kwollect's label names being free-form), an ipmi receiver per interval (a target per BMC,
 * `host:port`), a prometheus receiver per exporter and interval.
 */
export function translate(
  metrics: readonly KwollectMetric[],
  ipmiWorkarounds: readonly string[] = [],
): Translated[] {
  const out: Translated[] = [];
  const snmp = metrics.filter((m) => m.url.scheme === 'snmp');
  let profileIndex = 0;
  let metricIndex = 0;
  for (const [, sameInterval] of group(snmp, (m) => m.updateEvery)) {
    const every = sameInterval[0]?.updateEvery ?? 0;
    const internalNames = new Map<KwollectMetric, string>();
    const profiles: Record<string, unknown> = {};
    const targets: unknown[] = [];
    for (const entries of group(sameInterval, (m) =>
      m.url.scheme === 'snmp' ? [m.url.host, m.url.port, m.url.community, m.deviceId] : [],
    ).values()) {
      const first = entries[0];
      if (first?.url.scheme !== 'snmp') continue;
      const name = `kwollect_${String(profileIndex++)}`;
      profiles[name] = {
        description: `kwollect metrics of ${first.deviceId}`,
        scalars: {
          metrics: entries.map((m) => ({
            name: internalName(internalNames, m, metricIndex++),
            oid: m.url.scheme === 'snmp' ? m.url.oid : '',
            instrument: 'gauge',
            // kwollect keeps every value as a double (an OCTET STRING may hold "12.5").
            value_type: 'double',
          })),
        },
      };
      targets.push({
        name: `${first.url.host}:${String(first.url.port)} ${first.deviceId}`,
        address: first.url.host,
        port: first.url.port,
        auth: { version: 'v2c', community: first.url.community },
        profiles: [name],
        device_id: first.deviceId,
        timeout: ms(snmpTimeout(every)),
        retries: 0,
      });
    }
    out.push({
      type: 'snmp',
      config: { collection_interval: ms(every), profiles, targets },
      metrics: sameInterval,
      internalNames,
    });
  }
  const ipmi = metrics.filter((m) => m.url.scheme === 'ipmisensor');
  for (const entries of group(ipmi, (m) => m.updateEvery).values()) {
    const bmcs = group(entries, (m) =>
      m.url.scheme === 'ipmisensor' ? [m.url.host, m.url.port, m.url.user, m.url.password] : [],
    );
    const targets = [...bmcs.values()].flatMap((list) => {
      const u = list[0]?.url;
      if (u?.scheme !== 'ipmisensor') return [];
      return [{ host: bmcName(u), name: bmcName(u), username: u.user, password: u.password }];
    });
    const every = entries[0]?.updateEvery ?? 0;
    out.push({
      type: 'ipmi',
      config: {
        collection_interval: ms(every),
        bmc_timeout: ms(bmcTimeout(every)),
        targets,
        ...(ipmiWorkarounds.length > 0 ? { workarounds: [...ipmiWorkarounds] } : {}),
      },
      metrics: entries,
    });
  }
  const prometheus = metrics.filter((m) => m.url.scheme === 'prometheus');
  for (const entries of group(prometheus, (m) =>
    m.url.scheme === 'prometheus' ? [m.url.host, m.url.port, m.updateEvery] : [],
  ).values()) {
    const u = entries[0]?.url;
    if (u?.scheme !== 'prometheus') continue;
    const names = entries.flatMap((m) => (m.url.scheme === 'prometheus' ? m.url.names : []));
    const all = entries.some((m) => m.url.scheme === 'prometheus' && m.url.names.length === 0);
    out.push({
      type: 'prometheus',
      config: {
        targets: [`http://${u.host}:${String(u.port)}/metrics`],
        collection_interval: ms(entries[0]?.updateEvery ?? 0),
        // A counter's family is named with `_total` in the text format, without in OpenMetrics.
        metrics: all
          ? []
          : [...new Set(names)].map((n) => `${escapeRegExp(n.replace(/_total$/, ''))}(_total)?`),
      },
      metrics: entries,
    });
  }
  return out;
}
