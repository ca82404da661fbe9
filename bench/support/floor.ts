import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
   opened), and a checksum. */
static double cpu_seconds(void) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *list = fopen(argv[1], "r");
  int passes = atoi(argv[2]);
  char **paths = NULL; char *kinds = NULL; long *margins = NULL; size_t n = 0, cap = 0; char line[8192];
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\\n")] = 0;
    char *space = strchr(line, ' '); if (!space) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      paths = realloc(paths, cap * sizeof *paths); kinds = realloc(kinds, cap); margins = realloc(margins, cap * sizeof *margins);
    }
    kinds[n] = line[0]; margins[n] = atol(line + 1); paths[n] = strdup(space + 1); n++;
  }
  static char buf[1 << 16]; long sum = 0;
  int *held = calloc(n ? n : 1, sizeof *held);
  for (size_t i = 0; i < n; i++)
    held[i] = kinds[i] == 'K' || kinds[i] == 'O' || kinds[i] == 'B' ? open(paths[i], O_RDONLY) : -1;
  double start = cpu_seconds();
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
