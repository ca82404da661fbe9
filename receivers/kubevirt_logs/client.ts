import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorCode } from '../../kit/errors.ts';

/**
 * The receiver's only I/O: the Kubernetes log API and pod list (through
 * `@kubernetes/client-node`), and the files under the data directory (per-VM logs with
 * rotation, the state file).
 */

/** One log request: `GET /api/v1/namespaces/NS/pods/POD/log?container=C&timestamps=true…`. */
export interface LogRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** RFC 3339; absent: from the start of the container's log. */
  readonly sinceTime?: string | undefined;
  readonly limitBytes: number;
  readonly timeoutMs: number;
  /** Aborts the request (the receiver is stopping). */
  readonly signal?: AbortSignal;
}

/** A pod of the virt-handler DaemonSet. */
export interface HandlerPod {
  readonly name: string;
  readonly uid: string;
}

/** What the receiver asks of the Kubernetes API. */
export interface LogApi {
  /** The log text (with timestamps). Rejects with a {@link LogApiError}. */
  readPodLog(request: LogRequest): Promise<string>;
  /** The pods matching `labelSelector` in `namespace` that run on `nodeName`. */
  listNodePods(namespace: string, labelSelector: string, nodeName: string): Promise<HandlerPod[]>;
}

/** A failed API call, with the HTTP status when there was one (401, 403, 404, 500). */
export class LogApiError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogApiError';
    this.status = status;
  }
}

/**
 * A KubeConfig from the receiver's settings: in-cluster service account or a kubeconfig file.
 * (client-node is loaded here, when a receiver starts, not when the collector loads.)
 */
export async function loadKubeConfig(
  auth: 'service_account' | 'kubeconfig',
  file?: string,
): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (auth === 'kubeconfig' && file !== undefined) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

const STATUS_TEXT: Record<number, string> = {
  401: 'unauthorized (the token was refused)',
  403: 'forbidden (RBAC: pods/log get is needed)',
  404: 'not found (the pod or container is gone)',
};

function toApiError(error: unknown, what: string): LogApiError {
  if (error instanceof LogApiError) return error;
  // client-node's ApiException carries the HTTP status as a numeric `code`.
  if (error instanceof Error && 'code' in error && typeof error.code === 'number') {
    const code = error.code;
    // client-node reports a connection failure as a 500 without a body.
    return new LogApiError(`${what}: HTTP ${code} ${STATUS_TEXT[code] ?? ''}`.trim(), code, { cause: error });
  }
  return new LogApiError(`${what}: ${error instanceof Error ? error.message : String(error)}`, undefined, {
    cause: error,
  });
}

/** The log API through client-node's `Log` class (it supports `sinceTime`) and `CoreV1Api`. */
export async function createLogApi(kubeConfig: KubeConfig): Promise<LogApi> {
  const { CoreV1Api, Log } = await import('@kubernetes/client-node');
  const log = new Log(kubeConfig);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async readPodLog(request) {
      const what = `log of ${request.namespace}/${request.pod}/${request.container}`;
      const chunks: Buffer[] = [];
      let finished: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
        final(callback) {
          finished();
          callback();
        },
      });
      let controller: AbortController | undefined;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        const cancel = (message: string): void => {
          controller?.abort();
          sink.destroy();
          reject(new LogApiError(`${what}: ${message}`, undefined));
        };
        timer = setTimeout(() => {
          cancel(`no complete answer within ${request.timeoutMs} ms`);
        }, request.timeoutMs);
        timer.unref();
        onAbort = () => {
          cancel('cancelled: the receiver is stopping');
        };
        request.signal?.addEventListener('abort', onAbort, { once: true });
        if (request.signal?.aborted === true) onAbort();
      });
      try {
        const options = {
          follow: false,
          timestamps: true,
          limitBytes: request.limitBytes,
          ...(request.sinceTime === undefined ? {} : { sinceTime: request.sinceTime }),
        };
        controller = await Promise.race([
          log.log(request.namespace, request.pod, request.container, sink, options),
          timeout,
        ]);
        await Promise.race([done, timeout]);
        return Buffer.concat(chunks).toString('utf8');
      } catch (error) {
        throw toApiError(error, what);
      } finally {
        clearTimeout(timer);
        if (onAbort !== undefined) request.signal?.removeEventListener('abort', onAbort);
      }
    },
    async listNodePods(namespace, labelSelector, nodeName) {
      try {
        const list = await core.listNamespacedPod({
          namespace,
          labelSelector,
          fieldSelector: `spec.nodeName=${nodeName}`,
        });
        return list.items.flatMap((pod) => {
          const name = pod.metadata?.name;
          const uid = pod.metadata?.uid;
          // A pod that finished holds no running handler; its log is the old one's.
          if (name === undefined || uid === undefined || pod.status?.phase !== 'Running') return [];
          return [{ name, uid }];
        });
      } catch (error) {
        throw toApiError(error, `pods ${labelSelector} in ${namespace}`);
      }
    },
  };
}

/** Rotation settings of the per-VM files. */
export interface RotationOptions {
  /** A file is rotated before a write would take it beyond this size. */
  readonly maxFileSize: number;
  /** Files kept per log, the current one included. */
  readonly maxFiles: number;
}

/**
 * Appends lines to log files under a directory, rotating each file by size: `name.log` is
 * renamed `name.log.1` (`.1` to `.2`, …) before a write would make it larger than
 * `maxFileSize`, and only `maxFiles` files are kept (the oldest is removed).
 */
export class RotatingFiles {
  readonly #root: string;
  readonly #options: RotationOptions;
  /** Current size of each file written, by path relative to the root. */
  readonly #sizes = new Map<string, number>();

  constructor(root: string, options: RotationOptions) {
    this.#root = root;
    this.#options = options;
  }

  async #size(path: string): Promise<number> {
    const known = this.#sizes.get(path);
    if (known !== undefined) return known;
    try {
      return (await stat(path)).size;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 0;
      throw error;
    }
  }

  async #rotate(path: string): Promise<void> {
    const keep = this.#options.maxFiles;
    await rm(`${path}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i -= 1) {
      try {
        await rename(`${path}.${i}`, `${path}.${i + 1}`);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
    if (keep > 1) await rename(path, `${path}.1`);
    else await rm(path, { force: true });
  }

  /** Appends `lines` (each gets a newline) to `relative`, rotating as needed. */
  async append(relative: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const path = join(this.#root, relative);
    await mkdir(dirname(path), { recursive: true });
    let size = await this.#size(path);
    let chunk: string[] = [];
    let chunkBytes = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      await appendFile(path, chunk.join(''));
      size += chunkBytes;
      chunk = [];
      chunkBytes = 0;
    };
    for (const line of lines) {
      const text = `${line}\n`;
      const bytes = Buffer.byteLength(text);
      if (size + chunkBytes + bytes > this.#options.maxFileSize && size + chunkBytes > 0) {
        await flush();
        await this.#rotate(path);
        size = 0;
      }
      chunk.push(text);
      chunkBytes += bytes;
    }
    await flush();
    this.#sizes.set(path, size);
  }
}

/** Reads the state file; undefined when there is none yet. Rejects when it cannot be read or parsed. */
export async function readStateFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/** Writes the state file atomically (a temporary file renamed over it). */
export async function writeStateFile(path: string, state: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state)}\n`);
  await rename(temporary, path);
}
