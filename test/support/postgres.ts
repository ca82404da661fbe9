import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './peers.ts';

/**
 * A private PostgreSQL 15 server (Debian's `postgresql` package) for tests and benchmarks:
 * its own data directory under the temporary directory, listening on 127.0.0.1 on a free port
 * and on a Unix socket in that directory, trust authentication for `postgres`. As root, initdb
 * and the server run as the `postgres` user (initdb refuses root).
 */
export interface RunningPostgres {
  readonly host: string;
  readonly port: number;
  /** The data directory (the server's Unix socket is there too). */
  readonly dir: string;
  /** The superuser to connect as (no password). */
  readonly user: string;
  /** A database that always exists. */
  readonly database: string;
  /** Runs one statement (or several, without parameters) on `database` (or another one). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    database?: string,
  ): Promise<R[]>;
  /** Creates a database and returns its name. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown: clients are disconnected) and keeps its data. */
  halt(): Promise<void>;
  /** Starts the server again on the same port after `halt()`. */
  resume(): Promise<void>;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The server's log, for failure messages. */
  log(): string;
}

const BIN = '/usr/lib/postgresql/15/bin';

/** True when PostgreSQL 15's server binaries are installed. */
export function postgresInstalled(): boolean {
  return existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl'));
}

/** The directory of PostgreSQL 15's server binaries. */
export const POSTGRES_BIN = BIN;

function run(command: string, args: readonly string[], asPostgres: boolean): Promise<string> {
  const [file, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
    });
  });
}

/**
 * Creates a cluster in a fresh directory and starts it. `settings` are server parameters
 * (`-c name=value`), e.g. `{ fsync: 'off' }` for tests that do not measure durability.
 */
export async function startPostgres(settings: Record<string, string> = {}): Promise<RunningPostgres> {
  const asPostgres = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-pg-'));
  const data = join(dir, 'data');
  if (asPostgres) {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
    const [uid, gid] = [id('-u'), id('-g')];
    if (!Number.isInteger(uid) || !Number.isInteger(gid))
      throw new Error('running as root, but there is no postgres user to run the server as');
    chownSync(dir, uid, gid);
  }
  const user = 'postgres';
  await run(
    join(BIN, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', user, '-E', 'UTF8', '--no-sync'],
    asPostgres,
  );
  const port = await freePort();
  const options = [
    `-p ${String(port)}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(' ');
  const logFile = join(dir, 'log');
  const start = (): Promise<string> =>
    run(
      join(BIN, 'pg_ctl'),
      ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '60', 'start'],
      asPostgres,
    );
  const halt = (): Promise<string> =>
    run(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], asPostgres);
  await start();
  let running = true;
  let removed = false;
  const host = '127.0.0.1';
  const server: RunningPostgres = {
    host,
    port,
    dir,
    user,
    database: 'postgres',
    async query<R extends pg.QueryResultRow>(
      sql: string,
      params?: readonly unknown[],
      database = 'postgres',
    ) {
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
    async createDatabase(name) {
      await server.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      return name;
    },
    async halt() {
      if (!running) return;
      await halt();
      running = false;
    },
    async resume() {
      if (running) return;
      await start();
      running = true;
    },
    async stop() {
      if (removed) return;
      if (running) await halt().catch(() => undefined);
      running = false;
      removed = true;
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
  return server;
}
