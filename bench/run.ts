/**
 * Runs every benchmark under bench/ (files named *.bench.ts) one after the other with
 * their default arguments, or only those whose name contains one of the arguments:
 *
 *   npm run bench               # all
 *   npm run bench -- procfs     # bench/procfs.bench.ts
 *   npm run bench -- agent      # bench/agent.bench.ts (the node agent's table: node_exporter,
 *                               #   C and CSV floors; `-- agent --quick` for a shorter run)
 *   npm run bench -- procfs-read-steps  # bench/procfs-read-steps.bench.ts (the node agent's file
 *                               #   reads step by step against the C floor: where the gap goes)
 *   npm run bench -- remote-write  # bench/remote-write.bench.ts (prometheusremotewrite vs otlp
 *                               #   exporter CPU per point; Prometheus's own remote write)
 *   npm run bench -- libvirt    # bench/libvirt.bench.ts (500 test-driver domains vs virsh;
 *                               #   real QEMU guests too when run as root with libvirtd)
 *   npm run bench -- postgresql # bench/postgresql.bench.ts (COPY into kwollect's table vs psql \copy)
 *   npm run bench -- influxdb   # bench/influxdb.bench.ts (influxdb vs otlp exporter CPU per point)
 *   npm run bench -- agent-memory  # bench/agent-memory.bench.ts (the node agent's RSS beside the
 *                               #   floor of its stack over 10,000 scrapes)
 *   npm run bench -- stack-floor   # bench/stack-floor.bench.ts (idle processes importing less and
 *                               #   less of the stack, against its floor)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// Arguments starting with `--` go to every benchmark run; the others choose benchmarks: the
// one named exactly (`agent` is bench/agent.bench.ts), or else every one whose name contains it.
const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('--'));
const filters = args.filter((a) => !a.startsWith('--'));
const all = readdirSync(import.meta.dirname).filter((f) => f.endsWith('.bench.ts'));
const chosen = (x: string): string[] =>
  all.includes(`${x}.bench.ts`) ? [`${x}.bench.ts`] : all.filter((f) => f.includes(x));
const benches = (filters.length === 0 ? all : [...new Set(filters.flatMap(chosen))]).sort();
// Benchmarks measure the built collector.
const build = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, file), ...options], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    failed += 1;
    console.log(`${file} failed (exit ${String(result.status)})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
