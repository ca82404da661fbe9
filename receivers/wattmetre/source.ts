import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { childEnvironment } from '../../kit/child-env.ts';
import type { WattmetreConfig } from './config.ts';
import { LineSplitter } from './parse/lines.ts';

/**
 * Longest line kept while waiting for its newline (a frame is a few hundred bytes): a
 * longer one is dropped and reported, never buffered without bound.
 */
export const MAX_LINE_LENGTH = 64 * 1024;

/** What a source reports besides lines. */
export interface SourceEvents {
  line(text: string): void;
  /** A line longer than {@link MAX_LINE_LENGTH} was dropped (`length` characters). */
  oversized?(length: number): void;
  /** The command exited (or the FIFO's writer closed) and reading starts again after `delayMs`. */
  restart(reason: string, delayMs: number): void;
}

export interface Source {
  stop(): Promise<void>;
}

function splitter(events: SourceEvents): LineSplitter {
  return new LineSplitter(
    MAX_LINE_LENGTH,
    (line) => {
      events.line(line);
    },
    (length) => events.oversized?.(length),
  );
}

/** Reads lines (bounded) from a stream until it ends. */
function lines(stream: Readable, events: SourceEvents): Promise<void> {
  const split = splitter(events);
  const decoder = new StringDecoder('utf8');
  stream.on('data', (chunk: Buffer) => {
    split.push(decoder.write(chunk));
  });
  return new Promise((resolve) => {
    const done = (): void => {
      split.push(decoder.end());
      split.end();
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

/**
 * The only I/O of the wattmetre receiver: a command it spawns and restarts with backoff, a
 * file or FIFO it follows, or standard input.
 */
export function startSource(config: WattmetreConfig, events: SourceEvents): Source {
  const { command, file } = config.source;
  if (command !== undefined) return commandSource(command, config, events);
  if (file !== undefined) return fileSource(file, events);
  void lines(process.stdin, events);
  return { stop: () => Promise.resolve() };
}

function commandSource(command: string[], config: WattmetreConfig, events: SourceEvents): Source {
  let stopped = false;
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = config.restart_delay;
  const run = (): void => {
    const started = Date.now();
    const [program = '', ...args] = command;
    // The collector's environment holds the secrets `${env:NAME}` substitutes: not passed on.
    child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnvironment() });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-500);
    });
    const stdout = child.stdout;
    if (stdout !== null) void lines(stdout, events);
    const again = (reason: string): void => {
      child = undefined;
      if (stopped) return;
      // A run that lasted a minute was healthy: start over from the shortest delay.
      if (Date.now() - started > 60_000) delay = config.restart_delay;
      events.restart(`${reason}${stderr === '' ? '' : `: ${stderr.trim().split('\n').pop() ?? ''}`}`, delay);
      timer = setTimeout(run, delay);
      timer.unref();
      delay = Math.min(delay * 2, config.max_restart_delay);
    };
    child.once('error', (error) => {
      again(`${program} could not start: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      again(`${program} exited (${signal ?? `code ${String(code)}`})`);
    });
  };
  run();
  return {
    stop: () =>
      new Promise((resolve) => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        const c = child;
        if (c === undefined || c.exitCode !== null) {
          resolve();
          return;
        }
        c.once('exit', () => {
          resolve();
        });
        c.kill('SIGTERM');
      }),
  };
}

/**
 * Follows a regular file as lines are appended (from its start; polled every 100 ms, which
 * works on every filesystem), or reads a FIFO, reopened whenever its writer closes it.
 * A file that cannot be opened is retried every second.
 */
function fileSource(path: string, events: SourceEvents): Source {
  let stopped = false;
  let fd: number | undefined;
  let stream: ReturnType<typeof createReadStream> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let position = 0;
  const split = splitter(events);
  const decoder = new StringDecoder('utf8');
  const buffer = Buffer.allocUnsafe(1 << 16);
  const later = (fn: () => void, ms: number): void => {
    if (stopped) return;
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  const failed = (error: unknown): void => {
    events.restart(`${path}: ${(error as Error).message}`, 1000);
    later(open, 1000);
  };
  const poll = (): void => {
    if (stopped || fd === undefined) return;
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, position);
        if (n <= 0) break;
        position += n;
        split.push(decoder.write(buffer.subarray(0, n)));
      }
      later(poll, 100);
    } catch (error) {
      closeSync(fd);
      fd = undefined;
      failed(error);
    }
  };
  const open = (): void => {
    if (stopped) return;
    let fifo: boolean;
    try {
      fifo = statSync(path).isFIFO();
    } catch (error) {
      failed(error);
      return;
    }
    if (fifo) {
      // Opening a FIFO waits for a writer: the stream opens it off the event loop.
      stream = createReadStream(path);
      void lines(stream, events).then(() => {
        stream = undefined;
        if (stopped) return;
        events.restart(`${path}: the writer closed the FIFO`, 0);
        later(open, 0);
      });
      stream.once('error', failed);
      return;
    }
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      failed(error);
      return;
    }
    poll();
  };
  open();
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      stream?.destroy();
      return Promise.resolve();
    },
  };
}
