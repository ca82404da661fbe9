import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { factories } from '../service/components.ts';
import { createRegistry, loadConfigText } from '../service/config.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { Service } from '../service/service.ts';
import { readPackageVersion } from '../kit/version.ts';
import { parseRfc3339Ns } from '../receivers/kubevirt_logs/parse/log-line.ts';
import { startLogApiServer } from './support/kubevirt-log-api.ts';
import { startLogsBackend } from './support/otlp-logs.ts';
import type { ReceivedLogRecord } from './support/otlp-logs.ts';

/**
 * End to end: a collector whose `logs` pipeline takes the kubevirt_logs receiver (recorded
 * Kubernetes API on loopback) to two `otlp` exporters, one over gRPC and one over HTTP
 * (protobuf, gzip), each to a server on loopback that decodes every ExportLogsServiceRequest
 * with the protocol's messages. Every record is compared: timestamp, severity, body,
 * attributes, resource and scope; and the self-telemetry counts them per component.
 */

const KV = join(import.meta.dirname, '../receivers/kubevirt/testdata/fixtures/kubernetes');
const FX = join(import.meta.dirname, '../receivers/kubevirt_logs/testdata/fixtures');
const fixtureLines = (name: string): string[] =>
  readFileSync(join(FX, name), 'utf8')
    .split('\n')
    .filter((line) => line !== '');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FEDORA = {
  'kubevirt.vmi.namespace': 'vms',
  'kubevirt.vmi.name': 'fedora-db',
  'kubevirt.vmi.uid': '6a1f2e3d-4c5b-4a69-8e7f-0a1b2c3d4e5f',
  'kubevirt.vm.name': 'fedora-db',
};
const CIRROS = {
  'kubevirt.vmi.namespace': 'lab',
  'kubevirt.vmi.name': 'cirros-scratch',
  'kubevirt.vmi.uid': '1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6',
};
const SEVERITY: Record<string, number> = { info: 9, warning: 13, error: 17 };

/** What a record of one fixture line must be, computed from the line independently. */
function expectedRecord(
  line: string,
  pod: string,
  container: string,
  namespace: string,
  vmOf: (json: Record<string, string> | undefined) => Record<string, string> | undefined,
): Omit<ReceivedLogRecord, 'observedTimeUnixNano'> {
  const space = line.indexOf(' ');
  const text = line.slice(space + 1);
  let json: Record<string, string> | undefined;
  try {
    json = text.startsWith('{') ? (JSON.parse(text) as Record<string, string>) : undefined;
  } catch {
    json = undefined;
  }
  const attributes: Record<string, unknown> = {
    'k8s.namespace.name': namespace,
    'k8s.pod.name': pod,
    'k8s.container.name': container,
    'k8s.node.name': 'node-1',
    ...vmOf(json),
  };
  if (json?.component !== undefined) attributes['kubevirt.component'] = json.component;
  if (json?.subcomponent !== undefined) attributes['kubevirt.subcomponent'] = json.subcomponent;
  if (json?.pos !== undefined) attributes['kubevirt.log.pos'] = json.pos;
  return {
    resource: { 'host.name': 'node-1', 'service.name': 'inframeter' },
    scope: { name: 'inframeter/kubevirt_logs', version: readPackageVersion() },
    timeUnixNano: String(parseRfc3339Ns(line.slice(0, space))),
    severityNumber: json?.level === undefined ? 0 : (SEVERITY[json.level] ?? -1),
    severityText: json?.level ?? '',
    body: json?.msg ?? text,
    attributes,
  };
}

const byKey = (r: { attributes: Record<string, unknown>; timeUnixNano: string; body: unknown }): string =>
  `${String(r.attributes['k8s.container.name'])} ${r.timeUnixNano} ${String(r.body)}`;

describe('kubevirt_logs → otlp (gRPC and HTTP)', () => {
  it('delivers every line as a log record with its own timestamp, severity and attributes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-logs-otlp-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const api = await startLogApiServer(dir, {
      '/apis/kubevirt.io/v1/virtualmachineinstances': readFileSync(join(KV, 'vmi-list-1.json'), 'utf8'),
      '/api/v1/pods': readFileSync(join(KV, 'pod-list-1.json'), 'utf8'),
      '/api/v1/namespaces/kubevirt/pods': readFileSync(join(FX, 'virt-handler-pods.json'), 'utf8'),
    });
    cleanups.push(() => api.close());
    const compute = [
      ...fixtureLines('virt-launcher-fedora-db-compute.log'),
      ...fixtureLines('virt-launcher-fedora-db-compute-more.log'),
    ];
    const consoleLines = fixtureLines('virt-launcher-fedora-db-guest-console-log.log');
    const handler = fixtureLines('virt-handler-8xk2m.log');
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/compute', compute);
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/volumerootdisk', []);
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/guest-console-log', consoleLines);
    api.logs.set('kubevirt/virt-handler-8xk2m/virt-handler', handler);
    const backend = await startLogsBackend();
    cleanups.push(() => backend.close());

    const yaml = `
receivers:
  kubevirt_logs:
    auth_type: kubeconfig
    kubeconfig: ${api.kubeconfigPath}
    node_name: node-1
    directory: ${join(dir, 'data')}
    files: { enabled: false }
exporters:
  otlp/grpc:
    endpoint: ${backend.grpcAddress}
    tls: { insecure: true }
    headers: { authorization: "Bearer grpc-secret" }
  otlp/http:
    endpoint: ${backend.httpUrl}
    protocol: http/protobuf
    headers: { authorization: "Bearer http-secret" }
service:
  pipelines:
    logs:
      receivers: [kubevirt_logs]
      exporters: [otlp/grpc, otlp/http]
`;
    const config = loadConfigText(yaml, 'e2e.yaml', createRegistry(factories), {});
    const service = new Service(
      config,
      createSilentLogger(),
      resourceFromAttributes({ 'host.name': 'node-1', 'service.name': 'inframeter' }),
    );
    cleanups.push(() => service.shutdown());
    await service.start();

    const total = compute.length + consoleLines.length + handler.length;
    const deadline = Date.now() + 30_000;
    while (backend.grpc.length < total || backend.http.length < total) {
      if (Date.now() > deadline)
        throw new Error(
          `received ${backend.grpc.length} (gRPC) and ${backend.http.length} (HTTP) of ${total}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }

    const launcherVm = (): Record<string, string> => FEDORA;
    const handlerVm = (json: Record<string, string> | undefined): Record<string, string> | undefined =>
      json?.uid === FEDORA['kubevirt.vmi.uid']
        ? FEDORA
        : json?.uid === CIRROS['kubevirt.vmi.uid']
          ? CIRROS
          : undefined;
    const pod = 'virt-launcher-fedora-db-x7k2p';
    const expected = [
      ...compute.map((l) => expectedRecord(l, pod, 'compute', 'vms', launcherVm)),
      ...consoleLines.map((l) => expectedRecord(l, pod, 'guest-console-log', 'vms', launcherVm)),
      ...handler.map((l) => expectedRecord(l, 'virt-handler-8xk2m', 'virt-handler', 'kubevirt', handlerVm)),
    ].sort((a, b) => byKey(a).localeCompare(byKey(b)));
    for (const received of [backend.grpc, backend.http]) {
      const got = [...received].sort((a, b) => byKey(a).localeCompare(byKey(b)));
      // The observed time is when the line was fetched: after the line's own time.
      expect(got).toEqual(
        expected.map((r) => ({ ...r, observedTimeUnixNano: expect.stringMatching(/^\d{19}$/) as unknown })),
      );
      for (const r of got) expect(BigInt(r.observedTimeUnixNano)).toBeGreaterThan(BigInt(r.timeUnixNano));
    }
    expect(expected.filter((r) => r.severityText === 'error').map((r) => r.severityNumber)).toEqual([17]);
    expect(new Set(backend.authorizations)).toEqual(new Set(['Bearer grpc-secret', 'Bearer http-secret']));

    // Self-telemetry: records pushed by the receiver and delivered by each exporter.
    const { resourceMetrics } = await service.telemetry.reader.collect();
    const counts = new Map<string, number>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const metric of scope.metrics) {
        if (!metric.descriptor.name.startsWith('inframeter.component.log_records.')) continue;
        for (const point of metric.dataPoints) {
          const id = point.attributes['component.id'];
          if (typeof id === 'string')
            counts.set(`${metric.descriptor.name.split('.').pop() ?? ''} ${id}`, Number(point.value));
        }
      }
    expect(counts).toEqual(
      new Map([
        ['received kubevirt_logs', total],
        ['exported kubevirt_logs', total],
        ['received otlp/grpc', total],
        ['exported otlp/grpc', total],
        ['received otlp/http', total],
        ['exported otlp/http', total],
      ]),
    );
  });

  it('two collector processes in turn: the second resumes from the state file, no record or line twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-logs-cli-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const api = await startLogApiServer(dir, {
      '/apis/kubevirt.io/v1/virtualmachineinstances': readFileSync(join(KV, 'vmi-list-1.json'), 'utf8'),
      '/api/v1/pods': readFileSync(join(KV, 'pod-list-1.json'), 'utf8'),
      '/api/v1/namespaces/kubevirt/pods': readFileSync(join(FX, 'virt-handler-pods.json'), 'utf8'),
    });
    cleanups.push(() => api.close());
    const compute = fixtureLines('virt-launcher-fedora-db-compute.log');
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/compute', [...compute]);
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/volumerootdisk', []);
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/guest-console-log', []);
    api.logs.set('kubevirt/virt-handler-8xk2m/virt-handler', []);
    const backend = await startLogsBackend();
    cleanups.push(() => backend.close());
    const configPath = join(dir, 'agent.yaml');
    writeFileSync(
      configPath,
      `receivers:
  kubevirt_logs:
    auth_type: kubeconfig
    kubeconfig: ${api.kubeconfigPath}
    node_name: \${env:K8S_NODE_NAME}
    directory: ${join(dir, 'data')}
exporters:
  otlp:
    endpoint: ${backend.httpUrl}
    protocol: http/protobuf
service:
  pipelines:
    logs: { receivers: [kubevirt_logs], exporters: [otlp] }
`,
    );
    const main = join(import.meta.dirname, '..', 'service', 'main.ts');
    const runUntil = async (records: number): Promise<void> => {
      const child = spawn(process.execPath, [main, 'run', '--config', configPath], {
        cwd: dir,
        env: { ...process.env, K8S_NODE_NAME: 'node-1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        // The collector's start is in it: 60 s, as for every collector process the tests start.
        const deadline = Date.now() + 60_000;
        while (backend.http.length < records) {
          if (Date.now() > deadline)
            throw new Error(`${backend.http.length} of ${records} records; ${stderr}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        child.kill('SIGINT');
      }
      const exited = await Promise.race([
        code,
        new Promise<'running'>((r) =>
          setTimeout(() => {
            r('running');
          }, 30_000),
        ),
      ]);
      if (exited === 'running') {
        child.kill('SIGKILL');
        throw new Error(`the collector did not exit within 30 s of SIGINT; ${stderr}`);
      }
      expect(exited).toBe(0);
    };

    await runUntil(compute.length);
    const later =
      '2026-11-30T11:40:02.118442Z {"component":"virt-launcher","level":"info","msg":"Domain stopped.","pos":"manager.go:1497","timestamp":"2026-11-30T11:40:02.118301Z"}';
    api.logs.get('vms/virt-launcher-fedora-db-x7k2p/compute')?.push(later);
    await runUntil(compute.length + 1);
    // The collector has exited (code 0, after flushing). A request sent to the backend now is
    // served after everything the collector wrote before it exited: a duplicate, were there
    // one, is counted by the time this answers.
    expect((await fetch(`${backend.httpUrl}/after-exit`)).status).toBe(404);
    expect(backend.http.map((r) => r.timeUnixNano)).toEqual(
      [...compute, later].map((line) => String(parseRfc3339Ns(line.slice(0, line.indexOf(' '))))),
    );
    expect(backend.http.at(-1)?.body).toBe('Domain stopped.');
    const file = readFileSync(join(dir, 'data/vms/fedora-db/virt-launcher.log'), 'utf8');
    expect(file).toBe([...compute, later].map((line) => `${line}\n`).join(''));
    // Two collectors, each up to 60 s to deliver and 30 s to exit.
  }, 240_000);

  it('a collector with kubevirt_logs in no pipeline writes the files and builds no log record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inframeter-kubevirt-logs-files-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const api = await startLogApiServer(dir, {
      '/apis/kubevirt.io/v1/virtualmachineinstances': readFileSync(join(KV, 'vmi-list-1.json'), 'utf8'),
      '/api/v1/pods': readFileSync(join(KV, 'pod-list-1.json'), 'utf8'),
      '/api/v1/namespaces/kubevirt/pods': readFileSync(join(FX, 'virt-handler-pods.json'), 'utf8'),
    });
    cleanups.push(() => api.close());
    const compute = fixtureLines('virt-launcher-fedora-db-compute.log');
    api.logs.set('vms/virt-launcher-fedora-db-x7k2p/compute', compute);
    const yaml = `
receivers:
  kubevirt_logs:
    auth_type: kubeconfig
    kubeconfig: ${api.kubeconfigPath}
    node_name: node-1
    directory: ${join(dir, 'data')}
    containers: [compute]
    virt_handler: { enabled: false }
  procfs: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [procfs], exporters: [prometheus] }
`;
    const config = loadConfigText(yaml, 'files.yaml', createRegistry(factories), {});
    const service = new Service(
      config,
      createSilentLogger(),
      resourceFromAttributes({ 'host.name': 'node-1' }),
    );
    cleanups.push(() => service.shutdown());
    await service.start();
    const path = join(dir, 'data/vms/fedora-db/virt-launcher.log');
    const expected = compute.map((line) => `${line}\n`).join('');
    const deadline = Date.now() + 30_000;
    const read = (): string => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    };
    while (read() !== expected) {
      if (Date.now() > deadline) throw new Error(`${path} holds ${JSON.stringify(read())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The lines are counted once the file is written and the read position saved.
    let names: string[] = [];
    while (!names.includes('inframeter.kubevirt_logs.lines')) {
      if (Date.now() > deadline) break;
      const { resourceMetrics } = await service.telemetry.reader.collect();
      names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
      if (!names.includes('inframeter.kubevirt_logs.lines')) await new Promise((r) => setTimeout(r, 20));
    }
    expect(names).toContain('inframeter.kubevirt_logs.lines');
    expect(names.filter((n) => n.startsWith('inframeter.component.log_records.'))).toEqual([]);
  });
});
