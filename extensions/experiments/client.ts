import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { KubeConfig } from '@kubernetes/client-node';
import type { StartRequest } from './config.ts';
import { mergeParts } from './merge.ts';

/** A collector the client talks to. */
export interface Target {
  /** How the user named it (host:port, or namespace/pod). */
  name: string;
  /** Base URL of its control API (`/experiments` is appended). */
  base: string;
  headers: Record<string, string>;
  /** TLS settings for the Kubernetes API server. */
  tls?: RequestOptions;
}

/** How to reach the collectors. */
export interface TargetOptions {
  token: string;
  /** host:port of each collector's control API. */
  hosts?: readonly string[];
  /** host:port of a collector that forwards to the others (its `/proxy/` route). */
  proxy?: string;
  /** Kubernetes: a label selector and namespace; reached through the API server's pod proxy. */
  k8s?: { selector: string; namespace: string; port: number; kubeconfig?: KubeConfig };
}

/** Turns the options into targets; Kubernetes pods are listed through the API. */
export async function resolveTargets(options: TargetOptions): Promise<Target[]> {
  if (options.k8s !== undefined) {
    const { selector, namespace, port } = options.k8s;
    // Loaded only for Kubernetes targets: the client library is large.
    const { CoreV1Api, KubeConfig: KubeConfigClass } = await import('@kubernetes/client-node');
    const kc = options.k8s.kubeconfig ?? defaultKubeConfig(new KubeConfigClass());
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('no current cluster in the kubeconfig');
    const api = kc.makeApiClient(CoreV1Api);
    const pods = await api.listNamespacedPod({ namespace, labelSelector: selector });
    const running = pods.items.filter((p) => p.status?.phase === 'Running' && p.metadata?.name !== undefined);
    if (running.length === 0) throw new Error(`no running pod matches ${selector} in namespace ${namespace}`);
    const tlsOptions: RequestOptions & { headers?: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(tlsOptions);
    const { headers = {}, ...tls } = tlsOptions;
    const server = cluster.server.replace(/\/$/, '');
    return running.map((p) => {
      const pod = p.metadata?.name ?? '';
      return {
        name: `${namespace}/${pod}`,
        base: `${server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(`${pod}:${String(port)}`)}/proxy`,
        headers: { ...(headers as Record<string, string>), 'x-inframeter-token': options.token },
        tls,
      };
    });
  }
  const hosts = options.hosts ?? [];
  if (hosts.length === 0) throw new Error('no hosts: give --hosts, --hosts-file or --k8s-selector');
  return hosts.map((host) => ({
    name: host,
    base: options.proxy === undefined ? `http://${host}` : `http://${options.proxy}/proxy/${host}`,
    headers: { authorization: `Bearer ${options.token}` },
  }));
}

function defaultKubeConfig(kc: KubeConfig): KubeConfig {
  kc.loadFromDefault();
  return kc;
}

/** Reads a hosts file: one host:port per line, `#` comments and blank lines ignored. */
export function readHostsFile(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
}

function send(
  target: Target,
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<IncomingMessage> {
  const url = new URL(`${target.base}${path}`);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const options: RequestOptions = {
    ...(target.tls ?? {}),
    method,
    headers: {
      ...target.headers,
      ...extra,
      ...(text === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
    },
    timeout: 30_000,
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, resolve);
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', reject);
    req.end(text);
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The outcome of one call on one collector. */
export interface HostResult {
  target: string;
  ok: boolean;
  status?: number;
  body?: unknown;
  error?: string;
}

/** JSON call with a clear error for a collector that answers garbage or fails. */
async function call(target: Target, method: string, path: string, body?: unknown): Promise<HostResult> {
  try {
    const res = await send(target, method, path, body);
    const text = await readText(res);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return {
        target: target.name,
        ok: false,
        status: res.statusCode ?? 0,
        error: `not a JSON answer (HTTP ${String(res.statusCode)}): ${text.slice(0, 120)}`,
      };
    }
    const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
    const error = ok ? undefined : errorText((parsed as { error?: unknown }).error, res.statusCode);
    return {
      target: target.name,
      ok,
      status: res.statusCode ?? 0,
      body: parsed,
      ...(error === undefined ? {} : { error }),
    };
  } catch (error) {
    return { target: target.name, ok: false, error: (error as Error).message };
  }
}

export function startAll(
  targets: readonly Target[],
  name: string,
  request: Partial<StartRequest>,
): Promise<HostResult[]> {
  return Promise.all(
    targets.map((t) => call(t, 'POST', `/experiments/${encodeURIComponent(name)}/start`, request)),
  );
}

export function stopAll(targets: readonly Target[], name: string): Promise<HostResult[]> {
  return Promise.all(targets.map((t) => call(t, 'POST', `/experiments/${encodeURIComponent(name)}/stop`)));
}

export function deleteAll(targets: readonly Target[], name: string): Promise<HostResult[]> {
  return Promise.all(targets.map((t) => call(t, 'DELETE', `/experiments/${encodeURIComponent(name)}`)));
}

export function listAll(targets: readonly Target[]): Promise<HostResult[]> {
  return Promise.all(targets.map((t) => call(t, 'GET', '/experiments')));
}

/** Progress of one download: bytes so far of the expected total (0 when unknown). */
export type ProgressListener = (target: string, bytes: number, total: number) => void;

/** A file name for a target's part. */
export function partName(target: string): string {
  return `${target.replace(/[^A-Za-z0-9._-]/g, '_')}.csv`;
}

/**
 * Downloads every collector's results of `name` into `${out}.parts/`, skipping the parts a
 * previous run already has (a retry fetches only what is missing), then merges the parts
 * into `out`. Returns per-target outcomes; the merge holds every part that is there.
 */
export async function pullAll(
  targets: readonly Target[],
  name: string,
  out: string,
  onProgress: ProgressListener = () => undefined,
): Promise<{ results: HostResult[]; rows: number }> {
  const partsDir = `${out}.parts`;
  mkdirSync(partsDir, { recursive: true });
  const results = await Promise.all(
    targets.map(async (target): Promise<HostResult> => {
      const part = join(partsDir, partName(target.name));
      if (existsSync(part)) {
        onProgress(target.name, 1, 1);
        return { target: target.name, ok: true, body: 'already fetched' };
      }
      try {
        const info = await call(target, 'GET', `/experiments/${encodeURIComponent(name)}`);
        if (!info.ok) return info;
        const total = Number((info.body as { size?: unknown }).size ?? 0);
        const res = await send(target, 'GET', `/experiments/${encodeURIComponent(name)}/results`, undefined, {
          'accept-encoding': 'gzip',
        });
        if (res.statusCode !== 200) {
          const text = await readText(res);
          return {
            target: target.name,
            ok: false,
            status: res.statusCode ?? 0,
            error: `HTTP ${String(res.statusCode)}: ${text.slice(0, 200).trim()}`,
          };
        }
        let bytes = 0;
        const count = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            bytes += chunk.length;
            onProgress(target.name, bytes, total);
            done(null, chunk);
          },
        });
        const tmp = `${part}.tmp`;
        const gzip = res.headers['content-encoding'] === 'gzip';
        await (gzip
          ? pipeline(res, createGunzip(), count, createWriteStream(tmp))
          : pipeline(res, count, createWriteStream(tmp)));
        if (total > 0 && bytes !== total) {
          rmSync(tmp, { force: true });
          return {
            target: target.name,
            ok: false,
            error: `incomplete download: ${String(bytes)} of ${String(total)} bytes`,
          };
        }
        renameSync(tmp, part);
        onProgress(target.name, bytes, Math.max(total, bytes));
        return { target: target.name, ok: true };
      } catch (error) {
        return { target: target.name, ok: false, error: (error as Error).message };
      }
    }),
  );
  const parts = targets.map((t) => join(partsDir, partName(t.name))).filter((p) => existsSync(p));
  const rows = await mergeParts(parts, out);
  return { results, rows };
}

function errorText(error: unknown, status: number | undefined): string {
  return typeof error === 'string' ? error : `HTTP ${String(status)}`;
}
