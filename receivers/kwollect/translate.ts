import type { KwollectMetric } from './parse/metrics-file.ts';

/** A receiver config made from kwollect metrics, and the metrics it serves. */
export interface Translated {
  readonly type: 'snmp' | 'ipmi' | 'prometheus';
  readonly config: Record<string, unknown>;
  readonly metrics: readonly KwollectMetric[];
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

/**
 * kwollect metrics as configurations of inframeter's receivers: one snmp receiver (a target
 * per agent, community, interval and device, each with a profile of its OIDs; labels are
 * added to the points afterwards, kwollect's label names being free-form), an ipmi
 * receiver per interval (a target per BMC), a prometheus receiver per exporter and interval.
 */
export function translate(
  metrics: readonly KwollectMetric[],
  ipmiWorkarounds: readonly string[] = [],
): Translated[] {
  const out: Translated[] = [];
  const snmp = metrics.filter((m) => m.url.scheme === 'snmp');
  if (snmp.length > 0) {
    const profiles: Record<string, unknown> = {};
    const targets: unknown[] = [];
    let i = 0;
    for (const entries of group(snmp, (m) =>
      m.url.scheme === 'snmp' ? [m.url.host, m.url.port, m.url.community, m.updateEvery, m.deviceId] : [],
    ).values()) {
      const first = entries[0];
      if (first === undefined || first.url.scheme !== 'snmp') continue;
      const name = `kwollect_${String(i++)}`;
      profiles[name] = {
        description: `kwollect metrics of ${first.deviceId}`,
        scalars: {
          metrics: entries.map((m) => ({
            name: m.name,
            oid: m.url.scheme === 'snmp' ? m.url.oid : '',
            instrument: 'gauge',
            unit: '1',
            scale_factor: m.scaleFactor,
          })),
        },
      };
      targets.push({
        name: `${first.url.host}:${String(first.url.port)} ${first.deviceId} ${String(first.updateEvery)}ms`,
        address: first.url.host,
        port: first.url.port,
        auth: { version: 'v2c', community: first.url.community },
        profiles: [name],
        device_id: first.deviceId,
        interval: `${String(first.updateEvery)}ms`,
        timeout: `${String(Math.min(2000, Math.max(100, Math.floor(first.updateEvery / 2))))}ms`,
        retries: 0,
      });
    }
    const shortest = Math.max(100, Math.min(...snmp.map((m) => m.updateEvery)));
    out.push({
      type: 'snmp',
      config: { collection_interval: `${String(shortest)}ms`, profiles, targets },
      metrics: snmp,
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
      return [
        {
          host: u.port === undefined ? u.host : `${u.host}:${String(u.port)}`,
          name: u.host,
          username: u.user,
          password: u.password,
        },
      ];
    });
    const every = entries[0]?.updateEvery ?? 1000;
    out.push({
      type: 'ipmi',
      config: {
        collection_interval: `${String(every)}ms`,
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
        collection_interval: `${String(entries[0]?.updateEvery ?? 1000)}ms`,
        metrics: all ? [] : names.map((n) => `${escapeRegExp(n)}(_total)?`),
      },
      metrics: entries,
    });
  }
  return out;
}
