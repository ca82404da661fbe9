import { createRequire } from 'node:module';
import { TimeoutError, errorCode, toError } from '../../kit/errors.ts';
import type { SnmpAuth } from './config.ts';
import { ERROR_STATUS, SnmpError, hasErrorStatus } from './errors.ts';
import { compareOids, isUnder } from './parse/oid.ts';
import type { RawVarbind } from './parse/varbind.ts';
import { SNMP_TYPE } from './parse/varbind.ts';

/**
 * The receiver's only I/O: SNMP sessions over UDP with net-snmp. A session is opened once per
 * target and kept between polls (an SNMPv3 session discovers the agent's engine ID and time
 * once); it is closed at shutdown. Tests hand in their own {@link SnmpClient}.
 */

/** Where and how to reach one agent. */
export interface SnmpConnection {
  readonly address: string;
  readonly port: number;
  readonly transport: 'udp4' | 'udp6';
  /** Milliseconds to wait for each response. */
  readonly timeout: number;
  /** Resends of an unanswered request. */
  readonly retries: number;
  readonly auth: SnmpAuth;
}

/** A session with one agent. Requests reject with TimeoutError or SnmpError. */
export interface SnmpSession {
  /** GET of these instances, in order; missing ones come back as noSuchObject/noSuchInstance. */
  get(oids: readonly string[], signal?: AbortSignal): Promise<RawVarbind[]>;
  /** Every varbind under each column, walked side by side with GETBULK (GETNEXT for SNMPv1). */
  walk(columns: readonly string[], maxRepetitions: number, signal?: AbortSignal): Promise<RawVarbind[]>;
  /** Errors that arrived outside any request (undecodable packets), since the last call. */
  takeStrayErrors(): Error[];
  /** False once the socket closed on its own; the session must then be opened again. */
  readonly usable: boolean;
  close(): void;
}

/** Opens sessions. */
export interface SnmpClient {
  open(connection: SnmpConnection): SnmpSession;
}

/** One request of each kind, as the walk and get logic needs them. */
export interface SnmpRequester {
  readonly version: SnmpAuth['version'];
  get(oids: readonly string[]): Promise<RawVarbind[]>;
  getNext(oids: readonly string[]): Promise<RawVarbind[]>;
  /** For each requested OID, the varbinds that follow it (max-repetitions of them). */
  getBulk(oids: readonly string[], maxRepetitions: number): Promise<RawVarbind[][]>;
}

/** Instances per GET request: keeps requests well under a UDP datagram. */
const GET_CHUNK = 32;
/** Columns per GETBULK request. */
const COLUMNS_PER_REQUEST = 12;

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw toError(signal.reason);
}

async function getChunk(requester: SnmpRequester, oids: readonly string[]): Promise<RawVarbind[]> {
  try {
    return await requester.get(oids);
  } catch (error) {
    // SNMPv1: one missing instance fails the whole request (RFC 1157 §4.1.2); ask one by one.
    if (hasErrorStatus(error, ERROR_STATUS.noSuchName)) {
      if (oids.length === 1) return [{ oid: oids[0] ?? '', type: SNMP_TYPE.NoSuchObject, value: null }];
      const out: RawVarbind[] = [];
      for (const oid of oids) out.push(...(await getChunk(requester, [oid])));
      return out;
    }
    if (hasErrorStatus(error, ERROR_STATUS.tooBig) && oids.length > 1) {
      const half = Math.ceil(oids.length / 2);
      return [
        ...(await getChunk(requester, oids.slice(0, half))),
        ...(await getChunk(requester, oids.slice(half))),
      ];
    }
    throw error;
  }
}

/** GET of any number of instances, in requests of at most {@link GET_CHUNK}. */
export async function getScalars(
  requester: SnmpRequester,
  oids: readonly string[],
  signal?: AbortSignal,
): Promise<RawVarbind[]> {
  const out: RawVarbind[] = [];
  for (let i = 0; i < oids.length; i += GET_CHUNK) {
    throwIfAborted(signal);
    out.push(...(await getChunk(requester, oids.slice(i, i + GET_CHUNK))));
  }
  return out;
}

/**
 * Appends the varbinds of one column's response that are still in the column, and returns
 * the OID to continue from, or undefined when the column is done. An agent that does not move
 * forward is broken: walking on would never end.
 */
function advance(
  column: string,
  cursor: string,
  varbinds: readonly RawVarbind[],
  out: RawVarbind[],
): string | undefined {
  let last = cursor;
  for (const varbind of varbinds) {
    if (varbind.type >= SNMP_TYPE.NoSuchObject || !isUnder(column, varbind.oid)) return undefined;
    if (compareOids(varbind.oid, last) <= 0)
      throw new SnmpError(
        'malformed_response',
        `agent answered ${varbind.oid} after ${last}: OIDs must increase`,
      );
    out.push(varbind);
    last = varbind.oid;
  }
  return varbinds.length === 0 ? undefined : last;
}

/**
 * Walks columns, each bounded to its own subtree (unlike net-snmp's walk(), which goes on
 * past it). With SNMPv2c/v3 one GETBULK carries up to {@link COLUMNS_PER_REQUEST} columns, so a
 * table of N columns and R rows takes about R / maxRepetitions requests, not N × that; an
 * agent answering tooBig gets fewer repetitions. SNMPv1 walks one column at a time with GETNEXT.
 */
export async function walkColumns(
  requester: SnmpRequester,
  columns: readonly string[],
  maxRepetitions: number,
  signal?: AbortSignal,
): Promise<RawVarbind[]> {
  const out: RawVarbind[] = [];
  const pending = new Map<string, string>([...new Set(columns)].map((column) => [column, column]));
  if (requester.version === 'v1') {
    for (const column of pending.keys()) {
      let cursor: string | undefined = column;
      while (cursor !== undefined) {
        throwIfAborted(signal);
        let response: RawVarbind[];
        try {
          response = await requester.getNext([cursor]);
        } catch (error) {
          if (hasErrorStatus(error, ERROR_STATUS.noSuchName)) break; // the end of the MIB view
          throw error;
        }
        cursor = advance(column, cursor, response, out);
      }
    }
    return out;
  }
  let repetitions = maxRepetitions;
  while (pending.size > 0) {
    throwIfAborted(signal);
    const batch = [...pending].slice(0, COLUMNS_PER_REQUEST);
    let response: RawVarbind[][];
    try {
      response = await requester.getBulk(
        batch.map(([, cursor]) => cursor),
        repetitions,
      );
    } catch (error) {
      if (hasErrorStatus(error, ERROR_STATUS.tooBig) && repetitions > 1) {
        repetitions = Math.floor(repetitions / 2);
        continue;
      }
      throw error;
    }
    batch.forEach(([column, cursor], i) => {
      const next = advance(column, cursor, response[i] ?? [], out);
      if (next === undefined) pending.delete(column);
      else pending.set(column, next);
    });
  }
  return out;
}

// ---- net-snmp ----------------------------------------------------------------------------

/** The part of a net-snmp Session used here (net-snmp ships no type declarations). */
interface NetSnmpSession {
  get(oids: string[], callback: (error: unknown, varbinds?: RawVarbind[]) => void): void;
  getNext(oids: string[], callback: (error: unknown, varbinds?: RawVarbind[]) => void): void;
  getBulk(
    oids: string[],
    nonRepeaters: number,
    maxRepetitions: number,
    callback: (error: unknown, varbinds?: (RawVarbind | RawVarbind[])[]) => void,
  ): void;
  on(event: 'error' | 'close', listener: (error?: unknown) => void): void;
  close(): void;
}

/** The part of the net-snmp module used here. */
interface NetSnmpModule {
  createSession(target: string, community: string, options: Record<string, unknown>): NetSnmpSession;
  createV3Session(
    target: string,
    user: Record<string, unknown>,
    options: Record<string, unknown>,
  ): NetSnmpSession;
  Version1: number;
  Version2c: number;
  Version3: number;
  SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
  AuthProtocols: Record<string, number>;
  PrivProtocols: Record<string, number>;
  ResponseInvalidCode: Record<'EAuthFailure' | 'ECouldNotDecrypt' | 'ENotInTimeWindow', number>;
  RequestTimedOutError: new (...args: never[]) => Error;
  RequestFailedError: new (...args: never[]) => Error & { status?: number };
  ResponseInvalidError: new (...args: never[]) => Error & { code?: number };
}

const require = createRequire(import.meta.url);
let netSnmpModule: NetSnmpModule | undefined;

/** net-snmp, loaded when the first session is made: a collector without SNMP never loads it. */
function loadNetSnmp(): NetSnmpModule {
  netSnmpModule ??= require('net-snmp') as NetSnmpModule;
  return netSnmpModule;
}

function securityLevel(level: 'no_auth_no_priv' | 'auth_no_priv' | 'auth_priv'): number {
  const { SecurityLevel } = loadNetSnmp();
  return {
    no_auth_no_priv: SecurityLevel.noAuthNoPriv,
    auth_no_priv: SecurityLevel.authNoPriv,
    auth_priv: SecurityLevel.authPriv,
  }[level];
}

function isAuthFailureCode(code: number | undefined): boolean {
  const { ResponseInvalidCode } = loadNetSnmp();
  return [
    ResponseInvalidCode.EAuthFailure,
    ResponseInvalidCode.ECouldNotDecrypt,
    ResponseInvalidCode.ENotInTimeWindow,
  ].includes(code ?? -1);
}

/** At most this many stray errors are kept between polls. */
const MAX_STRAY_ERRORS = 100;

function createNetSnmpSession(connection: SnmpConnection): NetSnmpSession {
  const { address, auth } = connection;
  const netSnmp = loadNetSnmp();
  const options = {
    port: connection.port,
    transport: connection.transport,
    timeout: connection.timeout,
    retries: connection.retries,
    backoff: 1,
  };
  if (auth.version !== 'v3') {
    return netSnmp.createSession(address, auth.community.reveal(), {
      ...options,
      version: auth.version === 'v1' ? netSnmp.Version1 : netSnmp.Version2c,
    });
  }
  const user: Record<string, unknown> = { name: auth.user, level: securityLevel(auth.security_level) };
  if (auth.security_level !== 'no_auth_no_priv') {
    user.authProtocol = netSnmp.AuthProtocols[auth.auth_protocol];
    user.authKey = auth.auth_password?.reveal();
  }
  if (auth.security_level === 'auth_priv') {
    user.privProtocol = netSnmp.PrivProtocols[auth.priv_protocol];
    user.privKey = auth.priv_password?.reveal();
  }
  return netSnmp.createV3Session(address, user, {
    ...options,
    version: netSnmp.Version3,
    context: auth.context,
  });
}

/** net-snmp's error classes → TimeoutError or SnmpError with the agent's address. */
function toRequestError(error: unknown, connection: SnmpConnection): Error {
  const where = `${connection.address}:${connection.port}`;
  const netSnmp = loadNetSnmp();
  if (error instanceof netSnmp.RequestTimedOutError)
    return new TimeoutError(`SNMP request to ${where}`, connection.timeout * (connection.retries + 1), {
      cause: error,
    });
  if (error instanceof netSnmp.ResponseInvalidError) {
    const failure =
      error.code !== undefined && isAuthFailureCode(error.code) ? 'authentication' : 'malformed_response';
    return new SnmpError(failure, `${where}: ${error.message}`, { cause: error });
  }
  if (error instanceof netSnmp.RequestFailedError)
    return new SnmpError('agent_error', `${where}: agent error ${error.message}`, {
      cause: error,
      status: error.status,
    });
  const err = toError(error);
  return new SnmpError('socket', `${where}: ${err.message}`, { cause: err });
}

class NetSnmpRequester implements SnmpRequester {
  readonly version: SnmpAuth['version'];
  readonly #session: NetSnmpSession;
  readonly #connection: SnmpConnection;

  constructor(session: NetSnmpSession, connection: SnmpConnection) {
    this.#session = session;
    this.#connection = connection;
    this.version = connection.auth.version;
  }

  #call<T>(send: (callback: (error: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        send((error, value) => {
          if (error !== null && error !== undefined) reject(toRequestError(error, this.#connection));
          else if (value === undefined) reject(new SnmpError('malformed_response', 'empty response'));
          else resolve(value);
        });
      } catch (error) {
        // net-snmp throws synchronously when it cannot encode a request (an OID out of range).
        reject(toRequestError(error, this.#connection));
      }
    });
  }

  get(oids: readonly string[]): Promise<RawVarbind[]> {
    return this.#call((callback) => {
      this.#session.get([...oids], callback);
    });
  }

  getNext(oids: readonly string[]): Promise<RawVarbind[]> {
    return this.#call((callback) => {
      this.#session.getNext([...oids], callback);
    });
  }

  async getBulk(oids: readonly string[], maxRepetitions: number): Promise<RawVarbind[][]> {
    const grouped = await this.#call<(RawVarbind | RawVarbind[])[]>((callback) => {
      this.#session.getBulk([...oids], 0, maxRepetitions, callback);
    });
    return grouped.map((entry) => (Array.isArray(entry) ? entry : [entry]));
  }
}

class NetSnmpClientSession implements SnmpSession {
  readonly #session: NetSnmpSession;
  readonly #requester: NetSnmpRequester;
  readonly #stray: Error[] = [];
  #open = true;

  constructor(connection: SnmpConnection) {
    this.#session = createNetSnmpSession(connection);
    this.#requester = new NetSnmpRequester(this.#session, connection);
    // An undecodable datagram is emitted as "error" (an unhandled one would end the process);
    // the request it answered times out.
    this.#session.on('error', (error) => {
      if (this.#stray.length < MAX_STRAY_ERRORS) this.#stray.push(toRequestError(error, connection));
    });
    this.#session.on('close', () => {
      this.#open = false;
    });
  }

  get usable(): boolean {
    return this.#open;
  }

  get(oids: readonly string[], signal?: AbortSignal): Promise<RawVarbind[]> {
    return getScalars(this.#requester, oids, signal);
  }

  walk(columns: readonly string[], maxRepetitions: number, signal?: AbortSignal): Promise<RawVarbind[]> {
    return walkColumns(this.#requester, columns, maxRepetitions, signal);
  }

  takeStrayErrors(): Error[] {
    return this.#stray.splice(0);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#session.close();
    } catch (error) {
      // The socket may already be gone (it failed on its own).
      if (errorCode(error) !== 'ERR_SOCKET_DGRAM_NOT_RUNNING') throw error;
    }
  }
}

/** The client of the running receiver: net-snmp sessions over UDP. */
export function createNetSnmpClient(): SnmpClient {
  return { open: (connection) => new NetSnmpClientSession(connection) };
}
