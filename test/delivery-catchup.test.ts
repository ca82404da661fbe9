import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Collectors,
  counts,
  csvRowCount as rowCount,
  csvRows as rows,
  sleep,
  waitFor,
} from './support/collectors.ts';
import { freePort } from './support/peers.ts';
import { factories } from '../service/components.ts';

/**
 * Delivery catches up after an outage, with default settings: two real inframeter processes
 * on loopback, an agent (procfs receiver → `otlp` exporter with default `sending_queue` and
 * `retry_on_failure`, and a csv exporter writing at once, the reference of what it produced)
 * and a gateway (otlp receiver → csv exporter acknowledging on its default 1 s flush). The
 * gateway is down for 30 s; from its return, the backlog must be gone within 30 s.
 */

const needed = ['receiver/procfs', 'receiver/otlp', 'exporter/otlp', 'exporter/csv'];
const registered = new Set(factories.map((f) => `${f.kind}/${f.type}`));
const missing = needed.filter((n) => !registered.has(n));

const collectors = new Collectors();
const dirs: string[] = [];
afterEach(async () => {
  collectors.killAll();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** True when every row of `part` is in `whole` at least as many times. */
function contains(whole: Map<string, number>, part: Map<string, number>): boolean {
  for (const [row, n] of part) if ((whole.get(row) ?? 0) < n) return false;
  return true;
}

describe.skipIf(missing.length > 0 && process.env.CI === undefined)(
  'delivery catches up after an outage (two processes, default delivery settings)',
  () => {
    it(
      'after a 30 s gateway outage the backlog is gone within 30 s of its return, every point delivered',
      { timeout: 240_000 },
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'inframeter-catchup-'));
        dirs.push(dir);
        const port = await freePort();
        const gatewayConfig = join(dir, 'gateway.yaml');
        const agentConfig = join(dir, 'agent.yaml');
        const gatewayCsv = join(dir, 'gateway.csv');
        const agentCsv = join(dir, 'agent.csv');
        // The gateway's csv exporter keeps its default flush_interval (1 s): it acknowledges a
        // batch once its rows are written, at the next flush.
        await writeFile(
          gatewayConfig,
          `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${port}
exporters:
  csv:
    path: ${gatewayCsv}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [csv]
`,
        );
        // The otlp exporter's sending_queue and retry_on_failure are left to their defaults.
        await writeFile(
          agentConfig,
          `receivers:
  procfs:
    collection_interval: 1s
exporters:
  otlp:
    endpoint: 127.0.0.1:${port}
    tls:
      insecure: true
  csv:
    path: ${agentCsv}
    flush_interval: 0s
service:
  pipelines:
    metrics:
      receivers: [procfs]
      exporters: [otlp, csv]
`,
        );
        let gateway = await collectors.start(gatewayConfig);
        const agent = await collectors.start(agentConfig);
        await waitFor(() => rowCount(gatewayCsv) > 0, 60_000, 'the first points at the gateway');
        await collectors.stop(gateway);
        const atStop = rowCount(agentCsv);
        await sleep(30_000);
        const duringOutage = rowCount(agentCsv) - atStop;
        expect(duringOutage).toBeGreaterThan(0);
        gateway = await collectors.start(gatewayConfig);
        // The gateway is back (listening): what the agent produced until now is the backlog.
        const back = performance.now();
        const loadAtReturn = loadavg()[0] ?? 0;
        const before = counts(rows(agentCsv));
        let caughtUpS: number | undefined;
        const beforeRows = [...before.values()].reduce((a, b) => a + b, 0);
        // A generous deadline to wait; the assertion is on the time measured from the return.
        await waitFor(
          () => {
            if (rowCount(gatewayCsv) < beforeRows) return false;
            if (!contains(counts(rows(gatewayCsv)), before)) return false;
            caughtUpS = (performance.now() - back) / 1000;
            return true;
          },
          120_000,
          'the backlog at the gateway',
          () =>
            `(backlog ${beforeRows} points, gateway ${rowCount(gatewayCsv)})\n${agent.output().slice(-4000)}`,
        );
        await collectors.stop(agent);
        const produced = rows(agentCsv);
        await waitFor(
          () => rowCount(gatewayCsv) >= produced.length,
          60_000,
          'the last points at the gateway',
          () => `(agent ${produced.length} points, gateway ${rowCount(gatewayCsv)})`,
        );
        await collectors.stop(gateway);
        const delivered = rows(gatewayCsv);
        console.log(
          `outage 30 s: ${duringOutage} points produced while the gateway was down, backlog ${beforeRows} points ` +
            `(with those delivered before) gone ${caughtUpS?.toFixed(1)} s after the gateway came back ` +
            `(load ${loadAtReturn.toFixed(2)} → ${(loadavg()[0] ?? 0).toFixed(2)}); ` +
            `agent produced ${produced.length} points, gateway wrote ${delivered.length}`,
        );
        expect(caughtUpS).toBeDefined();
        expect(caughtUpS!).toBeLessThan(30);
        expect(counts(delivered)).toEqual(counts(produced));
      },
    );
  },
);
