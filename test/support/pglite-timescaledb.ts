import { join } from 'node:path';
import pg from 'pg';
import { startPeer } from './peers.ts';
import type { Peer } from './peers.ts';

/**
 * A PostgreSQL server with the TimescaleDB extension available (not installed), for tests:
 * `pglite-timescaledb-server.ts` in a child process, on a free port of 127.0.0.1. It is
 * PGlite's PostgreSQL 17.5 compiled to WebAssembly with TimescaleDB 2.23.0-dev, not a native
 * server: one connection at a time (the others wait), one database whatever name a client
 * asks for (PGlite's `template1`), any user and password accepted.
 */
export interface RunningTimescale {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The name to connect with (PGlite serves its one database under any name). */
  readonly database: string;
  /** Runs one statement (or several, without parameters) on a connection of its own. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]>;
  /** Stops the server (its data lives in memory and is gone). Safe to call twice. */
  stop(): Promise<void>;
  /** The server's output, for failure messages. */
  output(): string;
}

const SERVER = join(import.meta.dirname, 'pglite-timescaledb-server.ts');

/** Starts the server; PGlite takes several seconds to load, more on a busy machine. */
export async function startTimescale(timeoutMs = 240_000): Promise<RunningTimescale> {
  const peer: Peer = startPeer(process.execPath, [SERVER, '--port', '0']);
  let port: number;
  try {
    port = await listeningPort(peer, timeoutMs);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  const host = '127.0.0.1';
  const user = 'postgres';
  const database = 'postgres';
  return {
    host,
    port,
    user,
    database,
    async query<R extends pg.QueryResultRow>(sql: string, params?: readonly unknown[]) {
      const client = new pg.Client({ host, port, user, database });
      await client.connect();
      try {
        const result = await client.query<R>(sql, params === undefined ? undefined : [...params]);
        // Several statements give several results: the last one's rows.
        const results = result as unknown as pg.QueryResult<R> | pg.QueryResult<R>[];
        return Array.isArray(results) ? (results.at(-1)?.rows ?? []) : results.rows;
      } finally {
        await client.end();
      }
    },
    stop: () => peer.stop(),
    output: () => peer.output(),
  };
}

/** The port the server prints as `{"port":N}` once it accepts connections. */
function listeningPort(peer: Peer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(`the TimescaleDB server did not start within ${String(timeoutMs)} ms: ${peer.output()}`),
      );
    }, timeoutMs);
    const check = (): void => {
      const match = /\{"port":(\d+)\}/.exec(peer.output());
      if (match === null) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    };
    peer.child.stdout?.on('data', check);
    peer.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the TimescaleDB server exited (${String(code ?? signal)}) before listening: ${peer.output()}`,
        ),
      );
    });
  });
}
