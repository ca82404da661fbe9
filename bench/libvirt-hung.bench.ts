/**
 * A hung hypervisor beside a healthy one, for `--minutes` (default 10), run by hand:
 * `node bench/libvirt-hung.bench.ts [--minutes 10] [--interval-s 5]`.
 *
 * In this process: the libvirt receiver (scrape controller, default deadlines) on
 * `test:///default` and on a `qemu+tcp://` URI whose peer accepts TCP and never answers.
 * Printed every minute: batches exported (one per interval expected), how many held the
 * healthy domains, this process's threads, RSS, open sockets and child processes, the hung
 * peer's open and total connections (one attempt per backoff), and the load average; the
 * figures must stay flat. Then the time shutdown took.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { loadavg } from 'node:os';
import { ExportResultCode } from '@opentelemetry/core';
import { configSchema } from '../receivers/libvirt/config.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import { createScraperReceiver } from '../kit/scrape-controller.ts';
import { rowsOf } from '../test/support/peers.ts';
import { childProcessCount } from '../test/support/misbehaving-peers.ts';
import { createTestSettings } from '../test/support/settings.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MINUTES = option('minutes', 10);
const INTERVAL_S = option('interval-s', 5);

const held = new Set<Socket>();
let accepted = 0;
const silent = createServer((socket) => {
  accepted += 1;
  held.add(socket);
  socket.resume();
  socket.on('close', () => held.delete(socket));
});
await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
const hung = `qemu+tcp://127.0.0.1:${String((silent.address() as { port: number }).port)}/system`;

const config = configSchema.parse({
  uris: ['test:///default', hung],
  collection_interval: `${String(INTERVAL_S)}s`,
});
let batches = 0;
let healthy = 0;
const receiver = createScraperReceiver(
  createTestSettings('libvirt', 'receiver'),
  config,
  new LibvirtScraper(config),
);
await receiver.start({
  export(batch, done) {
    batches += 1;
    if (
      rowsOf(batch).some(
        (r) =>
          r.metric === 'inframeter.libvirt.up' &&
          r.attributes['libvirt.uri'] === 'test:///default' &&
          r.value === 1,
      )
    )
      healthy += 1;
    done({ code: ExportResultCode.SUCCESS });
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
});

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}
function sockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n += 1;
    } catch {
      // Closed between the listing and the read.
    }
  }
  return n;
}

console.log(
  `libvirt: test:///default beside ${hung} (accepts, never answers), every ${String(INTERVAL_S)} s`,
);
console.log('minute  batches  healthy  threads  rss_MiB  sockets  children  peer_conns  accepted  load');
for (let minute = 0; minute <= MINUTES; minute++) {
  if (minute > 0) await new Promise((r) => setTimeout(r, 60_000));
  console.log(
    [
      String(minute).padStart(6),
      String(batches).padStart(8),
      String(healthy).padStart(8),
      String(threads()).padStart(8),
      (process.memoryUsage().rss / 2 ** 20).toFixed(0).padStart(8),
      String(sockets()).padStart(8),
      String(await childProcessCount()).padStart(9),
      String(held.size).padStart(11),
      String(accepted).padStart(9),
      (loadavg()[0] ?? 0).toFixed(2).padStart(5),
    ].join(' '),
  );
}
const started = performance.now();
await receiver.shutdown();
console.log(`shutdown took ${((performance.now() - started) / 1000).toFixed(2)} s`);
for (const s of held) s.destroy();
silent.close();
