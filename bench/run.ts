/**
 * Runs every benchmark under bench/ (files named *.bench.ts) one after the other with
 * their default arguments, or only those whose name contains one of the arguments:
 *
 *   npm run bench               # all
 *   npm run bench -- procfs     # bench/procfs.bench.ts
 *   npm run bench -- remote-write  # bench/remote-write.bench.ts (prometheusremotewrite vs otlp
 *                               #   exporter CPU per point; Prometheus's own remote write)
 *   npm run bench -- libvirt    # bench/libvirt.bench.ts (500 test-driver domains vs virsh;
 *                               #   real QEMU guests too when run as root with libvirtd)
 *   npm run bench -- postgresql # bench/postgresql.bench.ts (COPY into kwollect's table vs psql \copy)
 *   npm run bench -- influxdb   # bench/influxdb.bench.ts (influxdb vs otlp exporter CPU per point)
 *   npm run bench -- agent-memory  # bench/agent-memory.bench.ts (the node agent's RSS beside the
 *                               #   floor of its stack over 10,000 scrapes)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const benches = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
// Benchmarks measure the built collector.
const build = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed += 1;
    console.log(`${file} failed (exit ${String(result.status)})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
