/**
 * A hung hypervisor beside healthy ones, for `--minutes` (default 10), run by hand:
 * `node bench/libvirt-hung.bench.ts [--minutes 10] [--interval-s 5] [--placement shared|process]`.
 *
 * In this process: the libvirt receiver (scrape controller, default deadlines) on
 * `test:///default`, on a test-driver node file, on a private libvirtd's unix socket when
 * one can run (root, Debian libvirt-daemon and libvirt-daemon-driver-qemu), and on a
 * `qemu+tcp://` URI whose peer accepts TCP and never answers. `--placement shared` (the
 * default) runs every connection, the test driver's too, in the shared connection process;
 * `process` runs each in a process of its own (the earlier model). Printed every minute:
 * batches exported (one per interval expected), how many held every healthy URI up, the
 * connection processes, threads, RSS and PSS of this process plus them, this process's open
 * sockets, the hung peer's open and total connections (one attempt per backoff), and the
 * load average; the figures must stay flat. Then the time shutdown took.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { loadavg } from 'node:os';
import { ExportResultCode } from '@opentelemetry/core';
import { join } from 'node:path';
import { setPlacement } from '../receivers/libvirt/client.ts';
import { configSchema } from '../receivers/libvirt/config.ts';
import type { QemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { QEMU_DAEMON_TOOLS, startQemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { LibvirtScraper } from '../receivers/libvirt/scraper.ts';
import { createScraperReceiver } from '../kit/scrape-controller.ts';
import { missing, rowsOf } from '../test/support/peers.ts';
import { createTestSettings } from '../test/support/settings.ts';
import { treeUsage } from './support/process-tree.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MINUTES = option('minutes', 10);
const INTERVAL_S = option('interval-s', 5);
const i = args.indexOf('--placement');
const PLACEMENT = i >= 0 && args[i + 1] === 'process' ? 'process' : 'shared';
setPlacement(PLACEMENT);

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

const healthyUris = [
  'test:///default',
  `test://${join(import.meta.dirname, '..', 'receivers', 'libvirt', 'testdata', 'fixtures', 'testnode.xml')}`,
];
let daemon: QemuDaemon | undefined;
if (process.getuid?.() === 0 && !QEMU_DAEMON_TOOLS.some(([b, p]) => missing(b, p))) {
  daemon = await startQemuDaemon(0);
  healthyUris.push(daemon.uri);
}

const config = configSchema.parse({
  uris: [...healthyUris, hung],
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
    const rows = rowsOf(batch);
    const up = (uri: string): boolean =>
      rows.some(
        (r) => r.metric === 'inframeter.libvirt.up' && r.attributes['libvirt.uri'] === uri && r.value === 1,
      );
    if (healthyUris.every(up)) healthy += 1;
    done({ code: ExportResultCode.SUCCESS });
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
});

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
  `libvirt (${PLACEMENT}): ${healthyUris.join(', ')} beside ${hung} (accepts, never answers), every ${String(INTERVAL_S)} s`,
);
console.log(
  'minute  batches  healthy  children  threads  rss_MiB  pss_MiB  sockets  peer_conns  accepted  load',
);
for (let minute = 0; minute <= MINUTES; minute++) {
  if (minute > 0) await new Promise((r) => setTimeout(r, 60_000));
  const tree = treeUsage();
  console.log(
    [
      String(minute).padStart(6),
      String(batches).padStart(8),
      String(healthy).padStart(8),
      String(tree.processes).padStart(9),
      String(tree.threads).padStart(8),
      tree.rssMiB.toFixed(0).padStart(8),
      tree.pssMiB.toFixed(0).padStart(8),
      String(sockets()).padStart(8),
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
await daemon?.stop();
