import { createRequire } from 'node:module';
import type koffiModule from 'koffi';
import type { LibraryHandle, TypeObject } from 'koffi';
import type { DomainStats, HostStats } from './parse/stats.ts';
import { applyBulkParams, emptyStats } from './parse/stats.ts';
import type { DomainDescription } from './parse/domain-xml.ts';
import { parseDomainXml } from './parse/domain-xml.ts';

/**
 * One connection to libvirt's own C library (`libvirt.so.0`) through koffi: the receiver's
 * only I/O. It runs inside the connection's own worker thread (see `worker.ts`), so its
 * calls are plain synchronous calls (a few µs each instead of a thread-pool round trip),
 * libvirt's per-thread last error is this thread's, and a hypervisor that hangs blocks only
 * its own thread.
 */

type Fn = ReturnType<LibraryHandle['func']>;

interface Api {
  open: Fn;
  close: Fn;
  getAll: Fn;
  freeList: Fn;
  name: Fn;
  uuid: Fn;
  info: Fn;
  memoryStats: Fn;
  xml: Fn;
  blockStats: Fn;
  blockInfo: Fn;
  interfaceStats: Fn;
  nodeInfo: Fn;
  freeMemory: Fn;
  cpuStats: Fn;
  connSetErrorFunc: (conn: unknown) => void;
  connCopyLastError: Fn;
  lastErrorMessage: Fn;
  resetError: Fn;
  ErrorStruct: TypeObject;
  Record: TypeObject;
  Param: TypeObject;
}

type Koffi = typeof koffiModule;

let api: (Api & { koffi: Koffi }) | undefined;

/** Longest a domain's XML description is reused before it is read again. */
export const XML_REFRESH_MS = 5 * 60_000;

/** libvirt error codes (virErrorNumber) the receiver acts on. */
const VIR_ERR_NO_DOMAIN = 42;
/** "domain is not running": stopped between the list and its own calls. */
const VIR_ERR_OPERATION_INVALID = 55;

/** Loads koffi and libvirt on first use: collectors without this receiver pay for neither. */
function load(): Api & { koffi: Koffi } {
  api ??= loadOnce();
  return api;
}

function loadOnce(): Api & { koffi: Koffi } {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libvirt.so.0');
  // The string member is declared void* and decoded only for string parameters: koffi
  // converting a char* member of a union reads garbage for the other types.
  const Value = koffi.union('inframeter_virTypedParameterValue', {
    i: 'int',
    ui: 'uint',
    l: 'int64',
    ul: 'uint64',
    d: 'double',
    b: 'char',
    s: 'void *',
  });
  const Param = koffi.struct('inframeter_virTypedParameter', {
    field: koffi.array('char', 80, 'String'),
    type: 'int',
    value: Value,
  });
  const Record = koffi.struct('inframeter_virDomainStatsRecord', {
    dom: 'void *',
    params: 'void *',
    nparams: 'int',
  });
  koffi.struct('inframeter_virNodeInfo', {
    model: koffi.array('char', 32, 'String'),
    memory: 'ulong',
    cpus: 'uint',
    mhz: 'uint',
    nodes: 'uint',
    sockets: 'uint',
    cores: 'uint',
    threads: 'uint',
  });
  const ErrorStruct = koffi.struct('inframeter_virError', {
    code: 'int',
    domain: 'int',
    message: 'const char *',
    level: 'int',
    conn: 'void *',
    dom: 'void *',
    str1: 'void *',
    str2: 'void *',
    str3: 'void *',
    int1: 'int',
    int2: 'int',
    net: 'void *',
  });
  // This thread's connections report errors to a handler of their own that does nothing
  // (keeping libvirt off stderr); the message is read right after the failing call, on this
  // thread. Errors without a connection (opening one) go to the process's handler, which
  // the main thread installed (client.ts).
  const ErrorFunc = koffi.proto('void inframeter_virErrorFunc(void *userData, void *error)');
  const quiet = koffi.register(() => undefined, koffi.pointer(ErrorFunc));
  const setConnErrorFunc = lib.func(
    'void virConnSetErrorFunc(void *conn, void *userData, inframeter_virErrorFunc *handler)',
  );
  const HeapString = koffi.disposable('inframeter_heap_str', 'str');
  return {
    open: lib.func('void *virConnectOpenReadOnly(const char *name)'),
    close: lib.func('int virConnectClose(void *conn)'),
    getAll: lib.func(
      'int virConnectGetAllDomainStats(void *conn, unsigned int stats, _Out_ void **retStats, unsigned int flags)',
    ),
    freeList: lib.func('void virDomainStatsRecordListFree(void *stats)'),
    name: lib.func('const char *virDomainGetName(void *dom)'),
    uuid: lib.func('int virDomainGetUUIDString(void *dom, _Out_ uint8_t *buf)'),
    info: lib.func('int virDomainGetInfo(void *dom, void *info)'),
    memoryStats: lib.func(
      'int virDomainMemoryStats(void *dom, void *stats, unsigned int nr, unsigned int flags)',
    ),
    xml: lib.func('virDomainGetXMLDesc', HeapString, ['void *', 'unsigned int']),
    blockStats: lib.func('int virDomainBlockStats(void *dom, const char *disk, void *stats, size_t size)'),
    blockInfo: lib.func(
      'int virDomainGetBlockInfo(void *dom, const char *disk, void *info, unsigned int flags)',
    ),
    interfaceStats: lib.func(
      'int virDomainInterfaceStats(void *dom, const char *device, void *stats, size_t size)',
    ),
    nodeInfo: lib.func('int virNodeGetInfo(void *conn, _Out_ inframeter_virNodeInfo *info)'),
    freeMemory: lib.func('unsigned long long virNodeGetFreeMemory(void *conn)'),
    cpuStats: lib.func(
      'int virNodeGetCPUStats(void *conn, int cpuNum, void *params, _Inout_ int *nparams, unsigned int flags)',
    ),
    connSetErrorFunc: (conn: unknown) => {
      setConnErrorFunc(conn, null, quiet);
    },
    connCopyLastError: lib.func('int virConnCopyLastError(void *conn, void *to)'),
    lastErrorMessage: lib.func('const char *virGetLastErrorMessage()'),
    resetError: lib.func('void virResetError(void *error)'),
    ErrorStruct,
    Record,
    Param,
    koffi,
  };
}

let quieted = false;

/**
 * libvirt reports errors raised without a connection (a failed open) to one process-wide
 * handler; without one it prints them on stderr. Installed by the thread that makes the
 * calls (koffi runs a callback on the thread that registered it while the calling thread
 * waits: the main thread of a connection process or of the shared one, or the collector's
 * main thread, whose event loop is always free, for its in-process threads). The message
 * itself is read by the thread that made the call.
 */
export function quietProcessErrors(): void {
  if (quieted) return;
  quieted = true;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libvirt.so.0');
  const ErrorFunc = koffi.proto('void inframeter_virErrorFuncMain(void *userData, void *error)');
  const setErrorFunc = lib.func('void virSetErrorFunc(void *userData, inframeter_virErrorFuncMain *handler)');
  setErrorFunc(
    null,
    koffi.register(() => undefined, koffi.pointer(ErrorFunc)),
  );
}

/** A libvirt call (synchronous: this is the connection's own thread); `T` is the C return type's. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the C function's return type
const call = <T>(fn: Fn, ...args: unknown[]): T => fn(...args) as T;

const number = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));

/** Memory stat tags (virDomainMemoryStatTags) and their bulk names. */
const MEMORY_TAGS: Record<number, string> = {
  0: 'swap_in',
  1: 'swap_out',
  2: 'major_fault',
  3: 'minor_fault',
  4: 'unused',
  5: 'available',
  6: 'current',
  7: 'rss',
  8: 'usable',
};
/** Entries asked of virDomainMemoryStats (VIR_DOMAIN_MEMORY_STAT_NR in libvirt 9). */
const MEMORY_STATS = 16;
/** virNodeCPUStats: char field[80]; unsigned long long value. */
const CPU_STAT_SIZE = 88;
/** VIR_NODE_CPU_STATS_ALL_CPUS: the host's CPUs summed. */
const ALL_CPUS = -1;
const NET_FIELDS = ['rx.bytes', 'rx.pkts', 'rx.errs', 'rx.drop', 'tx.bytes', 'tx.pkts', 'tx.errs', 'tx.drop'];
/** virTypedParameterType. */
const INT = 1;
const UINT = 2;
const LLONG = 3;
const ULLONG = 4;
const DOUBLE = 5;
const BOOLEAN = 6;
const STRING = 7;

/** A domain that was listed by the bulk call and was gone when its own calls ran. */
class DomainVanished extends Error {}
/** A domain listed as running that was stopped when its own calls ran. */
class DomainStopped extends Error {}

/** What one collection gives: what `fill` returns, with errors as plain text (sent between threads). */
export interface Collected {
  readonly domains: DomainStats[];
  readonly host: HostStats;
  /** Per domain (`URI domain NAME`): a domain that vanished, or calls that failed. */
  readonly errors: [string, string][];
}

/** A connection of this thread: `list` makes the bulk call, `fill` the rest of one collection. */
export interface Session {
  /** The bulk call; the names of the domains it listed. */
  list(): string[];
  /** Per-domain calls for what the bulk call did not give, and the host. */
  fill(): Collected;
  close(): void;
}

/** Opens a read-only connection; a refusal throws with libvirt's own message. */
export function openSession(uri: string): Session {
  const a = load();
  const koffi = a.koffi;
  const conn = call<unknown>(a.open, uri);
  if (conn === null) {
    const message = a.lastErrorMessage() as string | null;
    throw new Error(`${uri}: ${message ?? 'connection refused by libvirt (no message)'}`);
  }
  a.connSetErrorFunc(conn);
  const errorBuffer = Buffer.alloc(koffi.sizeof(a.ErrorStruct));
  /** The connection's last error (libvirt copies it to the connection when a call fails). */
  const lastError = (): { code: number; message: string } => {
    const code = a.connCopyLastError(conn, errorBuffer) as number;
    const e = koffi.decode(errorBuffer, a.ErrorStruct) as { message: string | null };
    const message = e.message ?? 'unknown libvirt error';
    a.resetError(errorBuffer);
    return { code, message };
  };
  const fail = (what: string): Error => new Error(`${uri}: ${what}: ${lastError().message}`);
  /** A failed per-domain call: the domain vanished (thrown), or a group that is not there. */
  const failed = (what: string, name: string): string => {
    const { code, message } = lastError();
    if (code === VIR_ERR_NO_DOMAIN)
      throw new DomainVanished(
        `${uri}: domain ${name} vanished between list and stats (${what}: ${message})`,
      );
    if (code === VIR_ERR_OPERATION_INVALID) throw new DomainStopped(message);
    return `${what}: ${message}`;
  };

  /**
   * Domain XML (disks and interfaces for the per-domain calls, MACs, cloud instance names)
   * by UUID, read when a domain is first seen, when the bulk call lists other disks or
   * interfaces than the XML had, and at least every XML_REFRESH_MS: with a driver that gives
   * every group in bulk (QEMU), a steady scrape makes no per-domain call at all.
   */
  const descriptions = new Map<string, { description: DomainDescription; readAt: number; seen: number }>();
  let generation = 0;
  const describe = (dom: unknown, stats: DomainStats, problems: string[]): DomainDescription | undefined => {
    const cached = descriptions.get(stats.uuid);
    const now = Date.now();
    const sameDevices = (d: DomainDescription): boolean =>
      (stats.blocks.size === 0 || [...stats.blocks.keys()].every((b) => d.disks.includes(b))) &&
      (stats.nets.size === 0 ||
        [...stats.nets.keys()].every((n) => d.interfaces.some((i) => i.target === n)));
    if (cached !== undefined && now - cached.readAt < XML_REFRESH_MS && sameDevices(cached.description)) {
      cached.seen = generation;
      return cached.description;
    }
    const xml = call<string | null>(a.xml, dom, 0);
    if (xml === null) {
      problems.push(failed('virDomainGetXMLDesc', stats.name));
      return undefined;
    }
    const description = parseDomainXml(xml);
    descriptions.set(stats.uuid, { description, readAt: now, seen: generation });
    return description;
  };

  /**
   * One buffer for the per-domain calls' output structures: the calls of a connection run
   * one after the other, and each result is read before the next call.
   */
  const buffer = Buffer.alloc(16 * MEMORY_STATS);
  const u64 = (offset: number): number => Number(buffer.readBigUInt64LE(offset));
  const i64 = (offset: number): number => Number(buffer.readBigInt64LE(offset));

  /** Per-domain calls for what the bulk call did not give; returns the calls that failed. */
  const fillPerDomain = (dom: unknown, stats: DomainStats): string[] => {
    const problems: string[] = [];
    const needInfo =
      stats.state === undefined || stats.cpuTime === undefined || stats.vcpuCount === undefined;
    if (needInfo) {
      // virDomainInfo: uchar state; ulong maxMem (KiB); ulong memory; ushort nrVirtCpu; ulonglong cpuTime.
      if (call<number>(a.info, dom, buffer) === 0) {
        stats.state ??= buffer.readUInt8(0);
        stats.cpuTime ??= u64(8 * 4);
        stats.vcpuCount ??= buffer.readUInt16LE(8 * 3);
        if (!stats.balloon.has('maximum')) stats.balloon.set('maximum', u64(8));
        if (!stats.balloon.has('current')) stats.balloon.set('current', u64(16));
      } else problems.push(failed('virDomainGetInfo', stats.name));
    }
    const running = stats.state === 1 || stats.state === 2 || stats.state === 3;
    if (!running) return problems;
    if (!stats.balloon.has('rss')) {
      // virDomainMemoryStat[]: int tag; (padding) ulonglong val.
      const n = call<number>(a.memoryStats, dom, buffer, MEMORY_STATS, 0);
      if (n < 0) problems.push(failed('virDomainMemoryStats', stats.name));
      for (let i = 0; i < n; i++) {
        const name = MEMORY_TAGS[buffer.readInt32LE(16 * i)];
        if (name !== undefined) stats.balloon.set(name, u64(16 * i + 8));
      }
    }
    const description = describe(dom, stats, problems);
    if (description === undefined) return problems;
    stats.cloudstackInstance = description.cloudstackInstance;
    stats.openstackInstance = description.openstackInstance;
    for (const i of description.interfaces) if (i.mac !== undefined) stats.macs.set(i.target, i.mac);
    for (const [target, source] of description.diskSources) stats.diskSources.set(target, source);
    if (stats.blocks.size === 0) {
      for (const disk of description.disks) {
        const fields = new Map<string, number>();
        // virDomainBlockStatsStruct: rd_req, rd_bytes, wr_req, wr_bytes, errs (long long).
        if (call<number>(a.blockStats, dom, disk, buffer, 40) === 0) {
          fields
            .set('rd.reqs', i64(0))
            .set('rd.bytes', i64(8))
            .set('wr.reqs', i64(16))
            .set('wr.bytes', i64(24));
          // -1: the driver does not count errors (QEMU).
          if (i64(32) >= 0) fields.set('errors', i64(32));
        } else problems.push(failed(`virDomainBlockStats ${disk}`, stats.name));
        // virDomainBlockInfo: capacity, allocation, physical (unsigned long long).
        if (call<number>(a.blockInfo, dom, disk, buffer, 0) === 0) {
          fields.set('capacity', u64(0)).set('allocation', u64(8)).set('physical', u64(16));
        } else problems.push(failed(`virDomainGetBlockInfo ${disk}`, stats.name));
        if (fields.size > 0) stats.blocks.set(disk, fields);
      }
    }
    if (stats.nets.size === 0) {
      for (const { target } of description.interfaces) {
        // virDomainInterfaceStatsStruct: rx bytes, packets, errs, drop, then tx (long long).
        if (call<number>(a.interfaceStats, dom, target, buffer, 64) !== 0) {
          problems.push(failed(`virDomainInterfaceStats ${target}`, stats.name));
          continue;
        }
        const fields = new Map<string, number>();
        NET_FIELDS.forEach((field, i) => fields.set(field, i64(8 * i)));
        stats.nets.set(target, fields);
      }
    }
    return problems;
  };

  const paramSize = koffi.sizeof(a.Param);
  // virTypedParameter: char field[80]; int type; (padding) union value (8 bytes).
  const valueOffset = paramSize - 8;
  /**
   * The typed parameters of one bulk record, read straight from libvirt's memory (one view,
   * no per-parameter koffi objects); strings are the only values decoded through koffi.
   */
  const decodeParams = (pointer: unknown, count: number): Map<string, number | string> => {
    const params = new Map<string, number | string>();
    if (count === 0) return params;
    const view = Buffer.from(koffi.view(pointer, count * paramSize));
    for (let i = 0, o = 0; i < count; i++, o += paramSize) {
      let end = view.indexOf(0, o);
      if (end < 0 || end > o + 80) end = o + 80;
      const field = view.toString('latin1', o, end);
      const v = o + valueOffset;
      switch (view.readInt32LE(o + 80)) {
        case INT:
          params.set(field, view.readInt32LE(v));
          break;
        case UINT:
          params.set(field, view.readUInt32LE(v));
          break;
        case LLONG:
          params.set(field, Number(view.readBigInt64LE(v)));
          break;
        case ULLONG:
          params.set(field, Number(view.readBigUInt64LE(v)));
          break;
        case DOUBLE:
          params.set(field, view.readDoubleLE(v));
          break;
        case BOOLEAN:
          params.set(field, view.readInt8(v) === 0 ? 0 : 1);
          break;
        case STRING:
          params.set(field, (koffi.decode(pointer, v, 'char *') as string | null) ?? '');
          break;
        default:
          break;
      }
    }
    return params;
  };

  /**
   * The host's CPU times summed over its CPUs (virNodeGetCPUStats: `kernel`, `user`, `idle`,
   * `iowait`, … in ns), or undefined when the driver does not give them.
   */
  const hostCpuTimes = (): Record<string, number> | undefined => {
    const count = [0];
    if (call<number>(a.cpuStats, conn, ALL_CPUS, null, count, 0) !== 0 || (count[0] ?? 0) <= 0) {
      lastError();
      return undefined;
    }
    const params = Buffer.alloc(CPU_STAT_SIZE * (count[0] ?? 0));
    if (call<number>(a.cpuStats, conn, ALL_CPUS, params, count, 0) !== 0) {
      lastError();
      return undefined;
    }
    const times: Record<string, number> = {};
    for (let i = 0, o = 0; i < (count[0] ?? 0); i++, o += CPU_STAT_SIZE) {
      let end = params.indexOf(0, o);
      if (end < 0 || end > o + 80) end = o + 80;
      times[params.toString('latin1', o, end)] = Number(params.readBigUInt64LE(o + 80));
    }
    return times;
  };

  /** The bulk call's records between `list` and `fill`. */
  let pending: { out: unknown; listed: { dom: unknown; stats: DomainStats }[] } | undefined;
  const release = (): void => {
    if (pending !== undefined && pending.out !== null) a.freeList(pending.out);
    pending = undefined;
  };

  return {
    list() {
      release();
      const out: unknown[] = [null];
      const n = call<number>(a.getAll, conn, 0, out, 0);
      if (n < 0) throw fail('virConnectGetAllDomainStats');
      pending = { out: out[0], listed: [] };
      const records = n === 0 ? [] : (koffi.decode(out[0], koffi.array('void *', n)) as unknown[]);
      for (const pointer of records) {
        const record = koffi.decode(pointer, a.Record) as { dom: unknown; params: unknown; nparams: number };
        // Name and UUID are read from the domain object the bulk call returned: no I/O.
        const uuid = Buffer.alloc(37);
        a.uuid(record.dom, uuid);
        const stats = emptyStats(a.name(record.dom) as string, uuid.toString('latin1', 0, 36));
        applyBulkParams(stats, decodeParams(record.params, record.nparams));
        pending.listed.push({ dom: record.dom, stats });
      }
      return pending.listed.map((l) => l.stats.name);
    },
    fill() {
      if (pending === undefined) throw new Error(`${uri}: fill without list`);
      const domains: DomainStats[] = [];
      const errors: [string, string][] = [];
      try {
        generation += 1;
        for (const { dom, stats } of pending.listed) {
          const key = `${uri} domain ${stats.name}`;
          try {
            let problems: string[];
            try {
              problems = fillPerDomain(dom, stats);
            } catch (error) {
              if (!(error instanceof DomainStopped)) throw error;
              // Stopped in between: reported as it is now, without the running-only groups.
              const now = emptyStats(stats.name, stats.uuid);
              problems = fillPerDomain(dom, now);
              Object.assign(stats, now);
            }
            if (problems.length > 0)
              errors.push([key, `${uri}: domain ${stats.name}: ${problems.join('; ')}`]);
            domains.push(stats);
          } catch (error) {
            // Gone between the list and its own calls: not reported, the others go on.
            if (error instanceof DomainVanished) errors.push([key, error.message]);
            else if (error instanceof DomainStopped)
              errors.push([key, `${uri}: domain ${stats.name}: ${error.message}`]);
            else throw error;
          }
        }
        // Domains no longer listed are forgotten.
        for (const [uuid, d] of descriptions) if (d.seen !== generation) descriptions.delete(uuid);
      } finally {
        release();
      }
      const node: Record<string, unknown> = {};
      const hasNode = call<number>(a.nodeInfo, conn, node) === 0;
      const free = call<unknown>(a.freeMemory, conn);
      return {
        domains,
        errors,
        host: {
          memoryTotal: hasNode ? number(node.memory) * 1024 : undefined,
          memoryFree: number(free) === 0 ? undefined : number(free),
          cpus: hasNode ? number(node.cpus) : undefined,
          cpuTimes: hostCpuTimes(),
        },
      };
    },
    close() {
      release();
      call<number>(a.close, conn);
    },
  };
}
