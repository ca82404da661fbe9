import { connect } from 'node:net';
import type { Socket } from 'node:net';

/**
 * The least a Node process can do to COPY bytes into PostgreSQL: a plain `net` socket
 * speaking the frontend/backend protocol (version 3.0) itself, no driver. A floor for
 * bench/postgresql.bench.ts: what any Node process pays to send finished COPY text, beside
 * what the `pg` driver adds.
 *
 * Trust authentication only (the benchmark's private server); one COPY at a time per
 * connection; an ErrorResponse rejects the COPY with the server's message.
 */
export class WireCopyConnection {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #waiting: { until: number; resolve: () => void; reject: (error: Error) => void } | undefined;
  #error: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (data: Buffer) => {
      this.#read(data);
    });
    socket.on('error', (error) => {
      this.#fail(error);
    });
    socket.on('close', () => {
      this.#fail(new Error('connection closed'));
    });
  }

  /** Connects and logs in as `user` (trust authentication) to `database`. */
  static async open(host: string, port: number, user: string, database: string): Promise<WireCopyConnection> {
    const socket = connect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const connection = new WireCopyConnection(socket);
    const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196_608, 4); // protocol 3.0
    params.copy(startup, 8);
    const ready = connection.#until(0x5a); // ReadyForQuery
    socket.write(startup);
    await ready;
    return connection;
  }

  /** One `COPY … FROM STDIN` (`sql`) of `text` in one CopyData message; resolves once committed. */
  async copy(sql: string, text: Uint8Array): Promise<void> {
    const inResponse = this.#until(0x47); // CopyInResponse
    this.#socket.write(message(0x51, Buffer.from(`${sql}\0`))); // Query
    await inResponse;
    const done = this.#until(0x5a);
    const header = Buffer.alloc(5);
    header[0] = 0x64; // CopyData
    header.writeInt32BE(4 + text.length, 1);
    this.#socket.cork();
    this.#socket.write(header);
    this.#socket.write(text);
    this.#socket.write(message(0x63, Buffer.alloc(0))); // CopyDone
    this.#socket.uncork();
    await done;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) =>
      this.#socket.once('close', () => {
        resolve();
      }),
    );
    this.#socket.end(message(0x58, Buffer.alloc(0))); // Terminate
    await closed;
  }

  /** Resolves when a message of type `type` arrives; an ErrorResponse before it rejects. */
  #until(type: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting = { until: type, resolve, reject };
    });
  }

  #read(data: Buffer): void {
    this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    let at = 0;
    while (this.#pending.length - at >= 5) {
      const type = this.#pending[at] ?? 0;
      const length = this.#pending.readInt32BE(at + 1);
      if (this.#pending.length - at < 1 + length) break;
      const body = this.#pending.subarray(at + 5, at + 1 + length);
      at += 1 + length;
      if (type === 0x45) this.#fail(new Error(`server error: ${errorMessage(body)}`));
      else if (type === 0x52 && body.readInt32BE(0) !== 0) this.#fail(new Error('authentication required'));
      else if (this.#waiting?.until === type) {
        const { resolve } = this.#waiting;
        this.#waiting = undefined;
        resolve();
      }
    }
    this.#pending = this.#pending.subarray(at);
  }

  #fail(error: Error): void {
    this.#error ??= error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }
}

function message(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** The `M` (message) field of an ErrorResponse. */
function errorMessage(body: Buffer): string {
  for (let at = 0; at < body.length && body[at] !== 0;) {
    const end = body.indexOf(0, at + 1);
    if (body[at] === 0x4d) return body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return 'unknown';
}
