/**
 * Memory and threads of libvirt connections, each placement in the same run:
 * `node bench/libvirt-memory.bench.ts [--counts 1,10,50] [--runs 2] [--no-daemon]`.
 *
 * For each count, that many connections are opened and each collected once, (a) each in a
 * process of its own (the earlier model, still the one of a quarantined URI), and (b) all in
 * the shared process, a thread each (the default). The URIs: `test:///default` (libvirt's
 * test driver, here run where the connection runs), and, when a private libvirtd can run
 * (root, Debian libvirt-daemon and libvirt-daemon-driver-qemu), that daemon's unix socket
 * (`qemu+unix:///session?socket=…`: libvirt's remote driver, real I/O, as the kubevirt
 * receiver reaches each launcher pod's daemon). Printed per case: the connection
 * processes, the threads and the memory of this process plus its children: RSS summed, and
 * PSS summed (shared pages counted once, the fair figure for many processes of one
 * program), the extra memory per connection over the collector alone, and the load average.
 * Worst (highest) of `--runs`.
 */
import { loadavg } from 'node:os';
import type { LibvirtConnection } from '../receivers/libvirt/client.ts';
import { endIdleThreads, openConnection, setPlacement } from '../receivers/libvirt/client.ts';
import type { QemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { QEMU_DAEMON_TOOLS, startQemuDaemon } from '../receivers/libvirt/testdata/qemu-daemon.ts';
import { missing } from '../test/support/peers.ts';
import type { TreeUsage as Usage } from './support/process-tree.ts';
import { treeUsage as usage } from './support/process-tree.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const COUNTS = option('counts', '1,10,50').split(',').map(Number);
const RUNS = Number(option('runs', '2'));

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitForNoChildren(): Promise<void> {
  const until = Date.now() + 30_000;
  while (usage().processes > 0 && Date.now() < until) await settle(200);
}

/** Opens `count` connections to `uri` where `placement` says, collects each once, measures, closes. */
async function measure(placement: 'process' | 'shared', uri: string, count: number): Promise<Usage> {
  setPlacement(placement);
  const connections: LibvirtConnection[] = [];
  try {
    // A few at a time: a busy 2-core machine starting 50 processes at once would time out.
    for (let i = 0; i < count; i += 5) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(5, count - i) }, () => openConnection(uri, { deadlineMs: 60_000 })),
      );
      connections.push(...batch);
    }
    for (const c of connections) await c.collect();
    // Let start-up garbage be collected before reading memory.
    await settle(2000);
    for (const c of connections) await c.collect();
    return usage();
  } finally {
    for (const c of connections) await c.close();
    await endIdleThreads(uri);
    setPlacement(undefined);
    await waitForNoChildren();
  }
}

const uris: { name: string; uri: string }[] = [{ name: 'test:///default', uri: 'test:///default' }];
let daemon: QemuDaemon | undefined;
if (
  !args.includes('--no-daemon') &&
  process.getuid?.() === 0 &&
  !QEMU_DAEMON_TOOLS.some(([b, p]) => missing(b, p))
) {
  daemon = await startQemuDaemon(0);
  uris.push({ name: 'private libvirtd (unix socket)', uri: daemon.uri });
}

try {
  await settle(1000);
  const base = usage();
  console.log(
    `collector alone: ${base.rssMiB.toFixed(0)} MiB RSS, ${base.pssMiB.toFixed(0)} MiB PSS, ${String(base.threads)} threads`,
  );
  console.log(
    'uri                             placement  conns  procs  threads  rss_MiB  pss_MiB  pss_MiB/conn  load',
  );
  for (const { name, uri } of uris)
    for (const count of COUNTS)
      for (const placement of ['process', 'shared'] as const) {
        let worst: Usage | undefined;
        for (let run = 0; run < RUNS; run++) {
          const u = await measure(placement, uri, count);
          if (worst === undefined || u.pssMiB > worst.pssMiB) worst = u;
        }
        if (worst === undefined) continue;
        console.log(
          [
            name.padEnd(31),
            placement.padEnd(9),
            String(count).padStart(6),
            String(worst.processes).padStart(6),
            String(worst.threads).padStart(8),
            worst.rssMiB.toFixed(0).padStart(8),
            worst.pssMiB.toFixed(0).padStart(8),
            ((worst.pssMiB - base.pssMiB) / count).toFixed(1).padStart(13),
            (loadavg()[0] ?? 0).toFixed(2).padStart(5),
          ].join(' '),
        );
      }
} finally {
  await daemon?.stop();
}
