import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessClient } from '../../receivers/process/client.ts';

/**
 * The floor the receiver benchmarks compare against: a C program that opens, reads and
 * closes exactly the files, lists the directories and reads the links a scrape read,
 * nothing else.
 */
const FLOOR_C = `
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>
/* Reads every file ('F'), lists every directory ('D') and reads every link ('L') of a list, N
   times; a file held open ('K') is opened once and read again from offset 0 with pread on
   every pass until a read returns 0 ('O': one read, a file the kernel generates whole;
   'B<n>': until a read returns 0 or at most 4096 - n bytes, a seq_file whose records are at
   most n bytes), a mount point ('S') is asked for statfs. A line is the kind, then a space
   and the path. Prints the entries, the CPU time per
   pass in ms (the passes only: not the program's start, the list read or the files held
   opened), and a checksum. With two more arguments, FIFO paths, it serves instead: it reads
   a number of passes per line from the first, makes them, and answers the same line on the
   second, until the first is closed (one process for every slice of a benchmark). */
static double cpu_seconds(void) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
static char **paths = NULL; static char *kinds = NULL; static long *margins = NULL; static int *held = NULL;
static size_t n = 0;
static char buf[1 << 16]; static long sum = 0;
static void run(int passes) {
  for (int p = 0; p < passes; p++) {
    for (size_t i = 0; i < n; i++) {
      if (kinds[i] == 'F') {
        int fd = open(paths[i], O_RDONLY); if (fd < 0) continue;
        ssize_t r; while ((r = read(fd, buf, sizeof buf)) > 0) sum += r;
        close(fd);
      } else if (kinds[i] == 'D') {
        DIR *d = opendir(paths[i]); if (!d) continue;
        struct dirent *e; while ((e = readdir(d))) sum += e->d_name[0];
        closedir(d);
      } else if (kinds[i] == 'K') {
        if (held[i] < 0) continue;
        off_t at = 0; ssize_t r;
        while ((r = pread(held[i], buf, sizeof buf, at)) > 0) { at += r; sum += r; }
      } else if (kinds[i] == 'B') {
        if (held[i] < 0) continue;
        off_t at = 0; ssize_t r;
        while ((r = pread(held[i], buf, sizeof buf, at)) > 0) { at += r; sum += r; if (r <= 4096 - margins[i]) break; }
      } else if (kinds[i] == 'O') {
        if (held[i] < 0) continue;
        ssize_t r = pread(held[i], buf, sizeof buf, 0); if (r > 0) sum += r;
      } else if (kinds[i] == 'S') {
        struct statfs s; if (statfs(paths[i], &s) == 0) sum += (long)s.f_bfree;
      } else {
        ssize_t r = readlink(paths[i], buf, sizeof buf); if (r > 0) sum += r;
      }
    }
  }
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *list = fopen(argv[1], "r");
  int passes = atoi(argv[2]);
  size_t cap = 0; char line[8192];
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\\n")] = 0;
    char *space = strchr(line, ' '); if (!space) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      paths = realloc(paths, cap * sizeof *paths); kinds = realloc(kinds, cap); margins = realloc(margins, cap * sizeof *margins);
    }
    kinds[n] = line[0]; margins[n] = atol(line + 1); paths[n] = strdup(space + 1); n++;
  }
  held = calloc(n ? n : 1, sizeof *held);
  for (size_t i = 0; i < n; i++)
    held[i] = kinds[i] == 'K' || kinds[i] == 'O' || kinds[i] == 'B' ? open(paths[i], O_RDONLY) : -1;
  if (argc >= 5) {
    FILE *in = fopen(argv[3], "r"); FILE *out = fopen(argv[4], "w");
    if (!in || !out) return 3;
    while (fgets(line, sizeof line, in)) {
      passes = atoi(line);
      double start = cpu_seconds();
      run(passes);
      double cpu = cpu_seconds() - start;
      fprintf(out, "%zu %f %ld\\n", n, passes > 0 ? cpu / passes * 1000 : 0, sum); fflush(out);
    }
    return 0;
  }
  double start = cpu_seconds();
  run(passes);
  double cpu = cpu_seconds() - start;
  printf("%zu %f %ld\\n", n, cpu / passes * 1000, sum);
  return 0;
}
`;

/** Compiles the floor program into `dir` (gcc -O2); returns the binary. */
export function compileFloor(dir: string): string {
  const source = join(dir, 'floor.c');
  writeFileSync(source, FLOOR_C);
  const binary = join(dir, 'floor');
  execFileSync('gcc', ['-O2', '-o', binary, source]);
  return binary;
}

/**
 * Runs the floor over what a recording scrape saw (path → `F` file, `D` directory, `L`
 * link, `K` file held open and read again with pread until a read returns 0, `O` the same
 * with one read, `B<n>` the same until a read returns 0 or at most 4096 − n bytes, `S` statfs
 * of a mount point) for `passes` passes; the entries read and the CPU milliseconds per pass.
 */
export function runFloor(
  binary: string,
  seen: ReadonlyMap<string, string>,
  passes: number,
  listFile: string,
): { entries: number; ms: number } {
  writeFileSync(listFile, [...seen].map(([path, kind]) => `${kind} ${path}`).join('\n') + '\n');
  const [entries = '0', ms = '0'] = execFileSync(binary, [listFile, String(passes)], { encoding: 'utf8' })
    .trim()
    .split(' ');
  return { entries: Number(entries), ms: Number(ms) };
}

/** A floor process kept running between the slices of a benchmark ({@link startFloor}). */
export interface FloorProcess {
  /** Makes `passes` passes of the calls; the CPU milliseconds per pass. */
  run(passes: number): number;
  /** Ends the process. */
  close(): void;
}

/**
 * Starts the floor over `seen` (as {@link runFloor}) as one process that makes the passes
 * asked of it, slice after slice, through two FIFOs that this process writes and reads
 * synchronously (in a directory of its own under `dir`, removed by `close`). So no process is
 * started between our slices: starting one forks ours, which leaves every page of ours
 * copy-on-write, and ours then paid a page fault for each page it wrote next (49–120 a slice
 * of 400 passes of the `reads` row, 5 % of its time; docs/performance.md, "File reads: the
 * floor in one process").
 */
export function startFloor(binary: string, seen: ReadonlyMap<string, string>, dir: string): FloorProcess {
  const own = mkdtempSync(join(dir, 'floor-'));
  const list = join(own, 'list.txt');
  const requests = join(own, 'requests');
  const answers = join(own, 'answers');
  writeFileSync(list, [...seen].map(([path, kind]) => `${kind} ${path}`).join('\n') + '\n');
  execFileSync('mkfifo', [requests, answers]);
  const child = spawn(binary, [list, '0', requests, answers], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Opened in the order the floor opens them: each open waits for the other end.
  const out = openSync(requests, 'w');
  const back = openSync(answers, 'r');
  const line = Buffer.alloc(256);
  return {
    run(passes) {
      writeSync(out, `${String(passes)}\n`);
      let length = 0;
      while (length === 0 || line[length - 1] !== 10) {
        const n = readSync(back, line, length, line.length - length, null);
        if (n === 0) throw new Error(`the floor ended (exit ${String(child.exitCode)})`);
        length += n;
      }
      // utf8, as the client decodes: another encoding here made V8 drop the client's optimised `toString`.
      const [, ms = 'NaN'] = line.toString('utf8', 0, length).trim().split(' ');
      return Number(ms);
    },
    close() {
      closeSync(out);
      closeSync(back);
      rmSync(own, { recursive: true, force: true });
    },
  };
}

/** Passes every call to `inner`, noting the path and kind of what it reads. */
export function recordingProcessClient(
  inner: ProcessClient,
  root: string,
  seen: Map<string, string>,
): ProcessClient {
  const proc = join(root, 'proc');
  return {
    ...inner,
    listPids: () => (seen.set(proc, 'D'), inner.listPids()),
    readPidFile: (pid, file) => (
      seen.set(`${proc}/${String(pid)}/${file}`, 'F'),
      inner.readPidFile(pid, file)
    ),
    readPidBytes: (pid, file) => (
      seen.set(`${proc}/${String(pid)}/${file}`, 'F'),
      inner.readPidBytes(pid, file)
    ),
    readExecutableName: (pid) => (seen.set(`${proc}/${String(pid)}/exe`, 'L'), inner.readExecutableName(pid)),
    countFds: (pid) => (seen.set(`${proc}/${String(pid)}/fd`, 'D'), inner.countFds(pid)),
    readProcStat: () => (seen.set(`${proc}/stat`, 'F'), inner.readProcStat()),
    readPasswd: () => (seen.set(join(root, 'etc', 'passwd'), 'F'), inner.readPasswd()),
    readRootFile: (path) => (seen.set(join(root, path), 'F'), inner.readRootFile(path)),
  };
}
