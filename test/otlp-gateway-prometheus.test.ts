import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Peer } from './support/peers.ts';
import { freePort, missing, poll, startPeer } from './support/peers.ts';

// Agent → gateway → Prometheus, all real processes on loopback: the agent reads a recorded
// /proc tree (so values are known) and sends OTLP/gRPC to the gateway, which serves them on
// its Prometheus endpoint; a real Prometheus server scrapes the gateway.
const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'service', 'main.ts');
const FIXTURE = join(ROOT, 'receivers', 'procfs', 'testdata', 'fixtures', 'linux-6.18-recorded');
const MEMTOTAL =
  Number(/MemTotal:\s+(\d+)/.exec(readFileSync(join(FIXTURE, 'proc', 'meminfo'), 'utf8'))?.[1]) * 1024;
const skip = missing('prometheus', 'prometheus');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(skip)('agent → gateway → real Prometheus', () => {
  let dir = '';
  const peers: Peer[] = [];
  let api = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inframeter-gateway-prom-'));
    const [otlp, scrape, prom] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'gateway.yaml'),
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        `      grpc: { endpoint: 127.0.0.1:${String(otlp)} }`,
        'exporters:',
        '  prometheus:',
        `    endpoint: 127.0.0.1:${String(scrape)}`,
        'service:',
        '  telemetry: { resource: { host.name: gateway-1 } }',
        '  pipelines:',
        '    metrics: { receivers: [otlp], exporters: [prometheus] }',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'receivers:',
        '  procfs:',
        `    root_path: ${FIXTURE}`,
        '    collection_interval: 500ms',
        '    groups: { filesystem: { enabled: false } }',
        'exporters:',
        '  otlp:',
        `    endpoint: http://127.0.0.1:${String(otlp)}`,
        'service:',
        '  telemetry: { resource: { host.name: agent-7 } }',
        '  pipelines:',
        '    metrics: { receivers: [procfs], exporters: [otlp] }',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        '  - job_name: gateway',
        `    static_configs: [{ targets: ['127.0.0.1:${String(scrape)}'] }]`,
        '',
      ].join('\n'),
    );
    peers.push(
      startPeer(process.execPath, [MAIN, 'run', '--config', join(dir, 'gateway.yaml')], { cwd: dir }),
    );
    peers.push(startPeer(process.execPath, [MAIN, 'run', '--config', join(dir, 'agent.yaml')], { cwd: dir }));
    peers.push(
      startPeer(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${String(prom)}`,
        ],
        { cwd: dir },
      ),
    );
    api = `http://127.0.0.1:${String(prom)}`;
  }, 30_000);

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("Prometheus's query API returns the agent's series with the agent's values", async () => {
    const query = async (expr: string): Promise<Sample[] | undefined> => {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; data: { result: Sample[] } };
      return body.status === 'success' && body.data.result.length > 0 ? body.data.result : undefined;
    };
    // Two collectors and Prometheus start meanwhile: 60 s, as collectors.start gives one collector.
    const memory = await poll('system_memory_limit_bytes in Prometheus', 60_000, () =>
      query('system_memory_limit_bytes'),
    );
    expect(memory).toHaveLength(1);
    expect(Number(memory[0]?.value[1])).toBe(MEMTOTAL);
    // The agent's resource travels with its data: target_info says which host it is.
    const info = await poll('target_info of the agent', 30_000, () =>
      query('target_info{host_name="agent-7"}'),
    );
    expect(info[0]?.metric.host_name).toBe('agent-7');
    const cpu = await poll('cpu seconds', 30_000, () =>
      query('system_cpu_time_seconds_total{cpu_logical_number="1",cpu_mode="user"}'),
    );
    expect(Number(cpu[0]?.value[1])).toBe(616.56);
    // Waits of up to 60, 30 and 30 s.
  }, 150_000);
});
