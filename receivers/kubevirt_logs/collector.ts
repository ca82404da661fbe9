import type { Attributes, Counter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ComponentSettings, LogSink } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { readPackageVersion } from '../../kit/version.ts';
import type { LogApi } from './client.ts';
import { LogApiError, readStateFile, RotatingFiles, writeStateFile } from './client.ts';
import type { KubevirtLogsConfig } from './config.ts';
import type { Cursor } from './parse/cursor.ts';
import { cursorFromJson, cursorToJson, selectNewLines } from './parse/cursor.ts';
import type { KubevirtEntry, LogLine } from './parse/log-line.ts';
import { formatSinceTime, parseKubevirtEntry, parseTimestampedLog, severityOf } from './parse/log-line.ts';
import type { VmTargetRef, VmTargetSource } from './targets.ts';

/** Directory (under the data directory) of the node's own logs: no namespace starts with `_`. */
export const NODE_DIRECTORY = '_node';

/** A log unlisted this long has its position forgotten (its pod is long gone). */
export const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

/** Records handed to the pipeline in one export at most. */
const RECORDS_PER_EXPORT = 1000;

/** One container log to collect. */
interface Stream {
  /** `namespace/pod/container`: the key of its cursor in the state file. */
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The VM of a virt-launcher container; absent for virt-handler. */
  readonly target?: VmTargetRef;
  /** Its file under the data directory. */
  readonly file: string;
}

/** What one collection round did. */
export interface CollectReport {
  readonly streams: number;
  /** New lines collected, over every stream. */
  readonly lines: number;
  /** Errors by stream key (or `virt-handler` for the pod list). */
  readonly errors: ReadonlyMap<string, Error>;
}

/** The name of a virt-launcher container's file: `compute` is the launcher's own log. */
export function launcherFileName(container: string): string {
  return container === 'compute' ? 'virt-launcher.log' : `virt-launcher.${container}.log`;
}

function toHrTime(ns: bigint): [number, number] {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/** Read through a call: the signal may have aborted while a request was awaited. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function reasonOf(error: unknown): string {
  if (!(error instanceof LogApiError) || error.status === undefined) return 'other';
  if (error.status === 401) return 'unauthorized';
  if (error.status === 403) return 'forbidden';
  if (error.status === 404) return 'not_found';
  return `http_${error.status}`;
}

/**
 * Collects the virt-launcher and virt-handler logs of the node's VMs: for every container
 * log, the lines after the last one seen (`sinceTime` plus the cursor of `parse/cursor.ts`,
 * so no line twice and none missed), written to the VM's files and/or pushed as log records.
 * The cursors are saved in the state file after each log, so a restart resumes where it
 * stopped. A failing log (auth refused, pod gone) is reported and counted; the others go on.
 */
export class LogCollector {
  readonly #settings: ComponentSettings;
  readonly #config: KubevirtLogsConfig;
  readonly #api: LogApi;
  readonly #targets: VmTargetSource;
  readonly #files: RotatingFiles | undefined;
  readonly #statePath: string;
  readonly #errors: ErrorLog;
  readonly #lines: Counter;
  readonly #fetchErrors: Counter;
  readonly #malformed: Counter;
  readonly #scope = { name: 'inframeter/kubevirt_logs', version: readPackageVersion() };
  #cursors = new Map<string, Cursor>();
  /** When each log was last among the logs to collect (epoch ms), kept in the state file. */
  readonly #present = new Map<string, number>();
  #loaded = false;

  constructor(
    settings: ComponentSettings,
    config: KubevirtLogsConfig,
    api: LogApi,
    targets: VmTargetSource,
    statePath: string,
  ) {
    this.#settings = settings;
    this.#config = config;
    this.#api = api;
    this.#targets = targets;
    this.#statePath = statePath;
    this.#files = config.files.enabled
      ? new RotatingFiles(config.directory, {
          maxFileSize: config.files.max_file_size,
          maxFiles: config.files.max_files,
        })
      : undefined;
    this.#errors = new ErrorLog(settings.logger);
    this.#lines = settings.meter.createCounter('inframeter.kubevirt_logs.lines', {
      unit: '{line}',
      description: 'Log lines collected, by source (virt-launcher, virt-handler).',
      valueType: ValueType.INT,
    });
    this.#fetchErrors = settings.meter.createCounter('inframeter.kubevirt_logs.errors', {
      unit: '{error}',
      description: 'Failed log requests, by reason (unauthorized, forbidden, not_found, …).',
      valueType: ValueType.INT,
    });
    this.#malformed = settings.meter.createCounter('inframeter.kubevirt_logs.malformed_lines', {
      unit: '{line}',
      description: 'Lines without the API timestamp prefix, left out.',
      valueType: ValueType.INT,
    });
  }

  /** Loads the cursors of the state file (once). A corrupt file is reported and ignored. */
  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    try {
      const state = await readStateFile(this.#statePath);
      const streams = (state as { streams?: unknown } | undefined)?.streams;
      if (typeof streams !== 'object' || streams === null) return;
      for (const [key, value] of Object.entries(streams)) {
        const cursor = cursorFromJson(value);
        if (cursor === undefined) continue;
        this.#cursors.set(key, cursor);
        const present = (value as { present_at_ms?: unknown }).present_at_ms;
        this.#present.set(key, typeof present === 'number' ? present : Date.now());
      }
    } catch (error) {
      this.#errors.report(
        'state',
        new Error(`state file ${this.#statePath} unreadable, collecting from the start: ${String(error)}`),
      );
    }
  }

  async #save(): Promise<void> {
    const streams: Record<string, unknown> = {};
    for (const [key, cursor] of this.#cursors)
      streams[key] = { ...cursorToJson(cursor), present_at_ms: this.#present.get(key) ?? Date.now() };
    await writeStateFile(this.#statePath, { version: 1, streams });
  }

  #launcherStreams(targets: readonly VmTargetRef[]): Stream[] {
    const wanted = this.#config.containers;
    const streams: Stream[] = [];
    for (const target of targets) {
      const pod = target.launcherPod;
      if (pod === undefined) continue;
      for (const container of pod.containers) {
        if (wanted.length > 0 && !wanted.includes(container)) continue;
        streams.push({
          key: `${target.namespace}/${pod.name}/${container}`,
          namespace: target.namespace,
          pod: pod.name,
          container,
          target,
          file: `${target.namespace}/${target.vmiName}/${launcherFileName(container)}`,
        });
      }
    }
    return streams;
  }

  async #handlerStreams(errors: Map<string, Error>): Promise<Stream[]> {
    const handler = this.#config.virt_handler;
    if (!handler.enabled) return [];
    try {
      const pods = await this.#api.listNodePods(
        handler.namespace,
        handler.label_selector,
        this.#config.node_name,
      );
      this.#errors.recovered('virt-handler');
      return pods.map((pod) => ({
        key: `${handler.namespace}/${pod.name}/${handler.container}`,
        namespace: handler.namespace,
        pod: pod.name,
        container: handler.container,
        file: `${NODE_DIRECTORY}/virt-handler.log`,
      }));
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      errors.set('virt-handler', err);
      this.#errors.report('virt-handler', err);
      this.#fetchErrors.add(1, { 'component.id': this.#settings.id, reason: reasonOf(error) });
      return [];
    }
  }

  /** One round over every log of the node's VMs. Never rejects. */
  async collect(signal: AbortSignal, logs: LogSink | undefined): Promise<CollectReport> {
    await this.#load();
    const errors = new Map<string, Error>();
    const targets = this.#targets.targets().filter((t) => t.nodeName === this.#config.node_name);
    const namespaces = this.#config.namespaces;
    const monitored =
      namespaces.length === 0 ? targets : targets.filter((t) => namespaces.includes(t.namespace));
    const streams = [...this.#launcherStreams(monitored), ...(await this.#handlerStreams(errors))];
    let lines = 0;
    for (const stream of streams) {
      if (signal.aborted) break;
      try {
        lines += await this.#collectStream(stream, monitored, signal, logs);
        this.#errors.recovered(stream.key);
      } catch (error) {
        // A request cancelled because the receiver stops is no failure of the log.
        if (isAborted(signal)) break;
        const err = error instanceof Error ? error : new Error(String(error));
        errors.set(stream.key, err);
        this.#errors.report(stream.key, err);
        this.#fetchErrors.add(1, { 'component.id': this.#settings.id, reason: reasonOf(error) });
      }
    }
    // The position of a log that is no longer listed (a VM gone, a handler pod replaced) is
    // forgotten only after FORGET_AFTER_MS: an absence may be the discovery or the pod list
    // not answering (then every VM looks gone), and a position kept for nothing costs little.
    const now = Date.now();
    for (const stream of streams) this.#present.set(stream.key, now);
    let changed = false;
    for (const key of [...this.#cursors.keys()]) {
      if (now - (this.#present.get(key) ?? now) > FORGET_AFTER_MS) {
        this.#cursors.delete(key);
        this.#present.delete(key);
        changed = true;
      }
    }
    if (changed) await this.#saveReporting(errors);
    return { streams: streams.length, lines, errors };
  }

  async #saveReporting(errors: Map<string, Error>): Promise<void> {
    try {
      await this.#save();
      this.#errors.recovered('state');
    } catch (error) {
      const err = new Error(`cannot write the state file ${this.#statePath}: ${String(error)}`);
      errors.set('state', err);
      this.#errors.report('state', err);
    }
  }

  /** Fetches one log until it is caught up (or the request budget is spent); the new lines' count. */
  async #collectStream(
    stream: Stream,
    monitored: readonly VmTargetRef[],
    signal: AbortSignal,
    logs: LogSink | undefined,
  ): Promise<number> {
    let total = 0;
    for (let request = 0; request < this.#config.max_requests_per_interval && !signal.aborted; request += 1) {
      const cursor = this.#cursors.get(stream.key);
      const body = await this.#api.readPodLog({
        namespace: stream.namespace,
        pod: stream.pod,
        container: stream.container,
        sinceTime: cursor === undefined ? undefined : formatSinceTime(cursor.timeNs),
        limitBytes: this.#config.max_bytes_per_request,
        timeoutMs: this.#config.timeout,
        signal,
      });
      const parsed = parseTimestampedLog(body);
      if (parsed.malformed > 0)
        this.#malformed.add(parsed.malformed, {
          'component.id': this.#settings.id,
          'k8s.container.name': stream.container,
        });
      const { fresh, cursor: next } = selectNewLines(parsed.lines, cursor);
      if (fresh.length > 0) {
        await this.#output(stream, fresh, monitored, logs);
        if (next !== undefined) this.#cursors.set(stream.key, next);
        await this.#save();
        total += fresh.length;
        this.#lines.add(fresh.length, {
          'component.id': this.#settings.id,
          source: stream.target === undefined ? 'virt-handler' : 'virt-launcher',
        });
      }
      // Caught up when the answer was not cut by limitBytes; a cut answer with nothing new
      // cannot move on (more than limitBytes within one second): the next round retries.
      const cut = parsed.truncated || Buffer.byteLength(body) >= this.#config.max_bytes_per_request;
      if (!cut || fresh.length === 0) break;
    }
    return total;
  }

  /** Writes the lines to their files and pushes them as log records. */
  async #output(
    stream: Stream,
    lines: readonly LogLine[],
    monitored: readonly VmTargetRef[],
    logs: LogSink | undefined,
  ): Promise<void> {
    const entries = lines.map((line) => parseKubevirtEntry(line.text));
    // virt-handler lines about one of the VMs also go to that VM's virt-handler.log.
    const about = (entry: KubevirtEntry | undefined): VmTargetRef | undefined => {
      if (stream.target !== undefined) return stream.target;
      if (entry === undefined) return undefined;
      return monitored.find(
        (t) =>
          (entry.uid !== undefined && entry.uid === t.vmiUid) ||
          (entry.name === t.vmiName && entry.namespace === t.namespace && entry.kind !== 'Domain'),
      );
    };
    const vms = entries.map(about);
    if (this.#files !== undefined) {
      await this.#files.append(
        stream.file,
        lines.map((line) => `${line.timestamp} ${line.text}`),
      );
      if (stream.target === undefined) {
        const perVm = new Map<string, string[]>();
        lines.forEach((line, i) => {
          const vm = vms[i];
          if (vm === undefined) return;
          const file = `${vm.namespace}/${vm.vmiName}/virt-handler.log`;
          const list = perVm.get(file) ?? [];
          list.push(`${line.timestamp} ${line.text}`);
          perVm.set(file, list);
        });
        for (const [file, list] of perVm) await this.#files.append(file, list);
      }
    }
    if (logs === undefined) return;
    const observed = toHrTime(BigInt(Date.now()) * 1_000_000n);
    const records: ReadableLogRecord[] = lines.map((line, i) =>
      this.#toRecord(stream, line, entries[i], vms[i], observed),
    );
    for (let start = 0; start < records.length; start += RECORDS_PER_EXPORT) {
      await this.#push(logs, records.slice(start, start + RECORDS_PER_EXPORT));
    }
  }

  #toRecord(
    stream: Stream,
    line: LogLine,
    entry: KubevirtEntry | undefined,
    vm: VmTargetRef | undefined,
    observed: [number, number],
  ): ReadableLogRecord {
    const attributes: Attributes = {
      'k8s.namespace.name': stream.namespace,
      'k8s.pod.name': stream.pod,
      'k8s.container.name': stream.container,
      'k8s.node.name': this.#config.node_name,
    };
    if (vm !== undefined) {
      attributes['kubevirt.vmi.namespace'] = vm.namespace;
      attributes['kubevirt.vmi.name'] = vm.vmiName;
      attributes['kubevirt.vmi.uid'] = vm.vmiUid;
      if (vm.vmName !== undefined) attributes['kubevirt.vm.name'] = vm.vmName;
    }
    if (entry?.component !== undefined) attributes['kubevirt.component'] = entry.component;
    if (entry?.subcomponent !== undefined) attributes['kubevirt.subcomponent'] = entry.subcomponent;
    if (entry?.pos !== undefined) attributes['kubevirt.log.pos'] = entry.pos;
    const severityNumber = severityOf(entry?.level);
    return {
      hrTime: toHrTime(line.timeNs),
      hrTimeObserved: observed,
      body: entry?.msg ?? line.text,
      ...(entry?.level === undefined ? {} : { severityText: entry.level }),
      ...(severityNumber === undefined ? {} : { severityNumber }),
      resource: this.#settings.resource,
      instrumentationScope: this.#scope,
      attributes,
      droppedAttributesCount: 0,
    };
  }

  /** Pushes records into the logs pipeline and waits for its answer; a failure is reported. */
  #push(logs: LogSink, records: ReadableLogRecord[]): Promise<void> {
    return new Promise((resolve) => {
      logs.export(records, (result) => {
        if (result.code === ExportResultCode.SUCCESS) this.#errors.recovered('pipeline');
        else
          this.#errors.report('pipeline', result.error ?? new Error('the logs pipeline refused the records'));
        resolve();
      });
    });
  }
}
