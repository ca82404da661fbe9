import type { Socket as UdpSocket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';

/**
 * Peers that misbehave the way operators' networks do, on loopback, for the receivers that
 * talk to something (libvirt, SNMP, IPMI, Prometheus targets, the Kubernetes API):
 *
 * - `silent`: accepts (or receives) and never answers;
 * - `trickle`: answers one byte a second;
 * - `close-mid-answer`: sends the first half of an answer, then closes;
 * - `garbage`: answers every request with bytes that mean nothing.
 *
 * Each counts what it was sent and how many connections are open, so a test can check that
 * a receiver neither piles up sockets nor stops retrying.
 */
export type Misbehaviour = 'silent' | 'trickle' | 'close-mid-answer' | 'garbage';

export const MISBEHAVIOURS: readonly Misbehaviour[] = ['silent', 'trickle', 'close-mid-answer', 'garbage'];

export interface MisbehavingPeer {
  readonly kind: Misbehaviour;
  readonly host: string;
  readonly port: number;
  /** Connections accepted (TCP) or datagrams received (UDP) so far. */
  received(): number;
  /** Connections open now (TCP; always 0 for UDP). */
  open(): number;
  close(): Promise<void>;
}

/** Bytes that are no protocol's answer: the same every run. */
function garbage(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * A TCP peer on 127.0.0.1 behaving as `kind`. `answer` is what a healthy peer would send
 * (an HTTP response, say): `trickle` and `close-mid-answer` send (part of) it.
 */
export async function startTcpPeer(
  kind: Misbehaviour,
  answer: Buffer = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'),
): Promise<MisbehavingPeer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let received = 0;
  const server: Server = createServer((socket) => {
    received += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    switch (kind) {
      case 'silent':
        socket.resume();
        break;
      case 'trickle': {
        let sent = 0;
        const bytes = Buffer.concat([answer, garbage(1 << 16)]);
        const timer = setInterval(() => {
          if (socket.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
            return;
          }
          socket.write(bytes.subarray(sent, sent + 1));
          sent += 1;
        }, 1000);
        timers.add(timer);
        socket.resume();
        break;
      }
      case 'close-mid-answer':
        socket.once('data', () => {
          socket.end(answer.subarray(0, Math.max(1, Math.floor(answer.length / 2))));
        });
        break;
      case 'garbage':
        socket.on('data', () => {
          socket.write(garbage(512));
        });
        break;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    kind,
    host: '127.0.0.1',
    port,
    received: () => received,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * A UDP peer on 127.0.0.1 behaving as `kind` (SNMP, IPMI over LAN): `trickle` answers with
 * one one-byte datagram a second, `close-mid-answer` with the first half of `answer`.
 */
export async function startUdpPeer(
  kind: Misbehaviour,
  answer: Buffer = garbage(64),
): Promise<MisbehavingPeer> {
  const socket: UdpSocket = createSocket('udp4');
  const timers = new Set<NodeJS.Timeout>();
  let received = 0;
  socket.on('message', (_message, from) => {
    received += 1;
    const reply = (bytes: Buffer): void => {
      socket.send(bytes, from.port, from.address);
    };
    switch (kind) {
      case 'silent':
        break;
      case 'trickle': {
        if (timers.size > 0) break;
        let sent = 0;
        const timer = setInterval(() => {
          reply(answer.subarray(sent % answer.length, (sent % answer.length) + 1));
          sent += 1;
        }, 1000);
        timers.add(timer);
        break;
      }
      case 'close-mid-answer':
        reply(answer.subarray(0, Math.max(1, Math.floor(answer.length / 2))));
        break;
      case 'garbage':
        reply(garbage(512));
        break;
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    kind,
    host: '127.0.0.1',
    port: socket.address().port,
    received: () => received,
    open: () => 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        socket.close(() => {
          resolve();
        });
      }),
  };
}

/** Threads of this process now (Linux), for checks that they stay flat. */
export async function threadCount(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
}

/** Processes whose parent is this process (Linux), only those running `command` if given. */
export async function childProcessCount(command?: string): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  let n = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (ppid === process.pid && (command === undefined || comm === command)) n += 1;
    } catch {
      // Gone between the listing and the read.
    }
  }
  return n;
}
