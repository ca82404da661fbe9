import { readdirSync, readFileSync } from 'node:fs';

/** Threads and memory of this process plus its Node.js children (Linux). */
export interface TreeUsage {
  /** Node.js children of this process. */
  readonly processes: number;
  readonly threads: number;
  /** Resident memory summed (a page shared by several processes counted in each). */
  readonly rssMiB: number;
  /** Proportional set size summed: a shared page counted once in all. */
  readonly pssMiB: number;
}

/**
 * The pids of this process's children now that run the same program (Node.js): a peer the
 * benchmark started itself (a libvirtd) is not counted.
 */
export function childPids(): number[] {
  const own = readFileSync('/proc/self/comm', 'utf8');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && readFileSync(`/proc/${entry}/comm`, 'utf8') === own)
        out.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** Threads, RSS and PSS of this process and its children, summed. */
export function treeUsage(): TreeUsage {
  const children = childPids();
  let threads = 0;
  let rss = 0;
  let pss = 0;
  for (const pid of [process.pid, ...children]) {
    try {
      const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
      threads += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      pss += Number(
        /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${String(pid)}/smaps_rollup`, 'utf8'))?.[1] ?? 0,
      );
    } catch {
      // Gone meanwhile.
    }
  }
  return { processes: children.length, threads, rssMiB: rss / 1024, pssMiB: pss / 1024 };
}
