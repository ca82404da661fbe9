import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './peers.ts';

const BIN = '/usr/lib/postgresql/15/bin';

/** True when Debian's PostgreSQL 15 server is installed. */
export function hasPostgres(): boolean {
  return existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl'));
}

/** A PostgreSQL 15 server of the test's own, on 127.0.0.1, user `postgres` without password. */
export interface RunningPostgres {
  readonly host: string;
  readonly port: number;
  /** Its data directory (and Unix socket directory). */
  readonly dir: string;
  stop(): Promise<void>;
  /** Runs SQL on database `postgres` and returns the rows. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
}

/**
 * Starts Debian's PostgreSQL 15 in a private directory on a free port, as RECIPES.md does:
 * initdb refuses root, so the server runs as the `postgres` user when the tests run as root.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'inframeter-postgres-'));
  const asRoot = userInfo().uid === 0;
  const run = (command: string, args: string[]): void => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    execFileSync(file, argv, { stdio: 'pipe' });
  };
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const data = join(dir, 'data');
  run(join(BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  run(join(BIN, 'pg_ctl'), [
    '-D',
    data,
    '-o',
    `-p ${String(port)} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    '-l',
    join(dir, 'log'),
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const host = '127.0.0.1';
  return {
    host,
    port,
    dir,
    async query<R extends Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> {
      const client = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
      await client.connect();
      try {
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end();
      }
    },
    stop() {
      // pg_ctl stops the server of this data directory by the PID in its postmaster.pid.
      try {
        run(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return Promise.resolve();
    },
  };
}
