/**
 * wattmetre samples parsed and exported to CSV on one core.
 *
 *   node bench/wattmetre.bench.ts [frames] [ports]      (default 20000 frames × 42 ports)
 *
 * Lines in `wattmetre-read`'s format go through the receiver's state (parse, energy,
 * batching) and the CSV exporter writes them to a file, in this process. Prints samples per
 * second and CPU per sample, beside the peer in the same run: the rate of one 42-port meter
 * at 50 Hz (2,100 samples/s), which the target (200,000/s) is a hundred times.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { configSchema as csvConfigSchema } from '../exporters/csv/config.ts';
import { CsvExporter } from '../exporters/csv/csv.ts';
import { exportBatch } from '../kit/scrape-controller.ts';
import { WattmetreState } from '../receivers/wattmetre/state.ts';
import { createTestSettings } from '../test/support/settings.ts';

const FRAMES = Number(process.argv[2] ?? 20_000);
const PORTS = Number(process.argv[3] ?? 42);
const FLUSH_EVERY = 50; // frames per push: one second of a 50 Hz meter
const dir = mkdtempSync(join(tmpdir(), 'inframeter-wattmetre-bench-'));

try {
  const lines = Array.from({ length: FRAMES }, (_, i) => {
    const watts = Array.from({ length: PORTS }, (_, p) =>
      (100 + ((i * 7 + p * 13) % 500) / 10).toFixed(1),
    ).join(',');
    return `wattmetre1,${String(i)},${(1_795_000_000 + i / 50).toFixed(3)},OK,${watts}`;
  });
  const csv = new CsvExporter(
    createTestSettings('csv', 'exporter'),
    csvConfigSchema.parse({ path: join(dir, 'power.csv'), flush_interval: '0ms' }),
  );
  await csv.start();
  const state = new WattmetreState('wattmetre1', new Map(), () => 'full', 1, 1_795_000_000);
  const resource = resourceFromAttributes({ 'host.name': 'bench' });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let samples = 0;
  for (let i = 0; i < FRAMES; i++) {
    state.line(lines[i] ?? '');
    if ((i + 1) % FLUSH_EVERY === 0 || i === FRAMES - 1) {
      const { batch, samples: n } = state.drain(resource);
      samples += n;
      const result = await exportBatch(csv, batch);
      if (!result.ok) throw result.error ?? new Error('export failed');
    }
  }
  await csv.shutdown();
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - wall0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const meter = PORTS * 50;
  console.log(
    `wattmetre → csv: ${String(samples)} samples (${String(FRAMES)} frames × ${String(PORTS)} ports), CSV ${(statSync(join(dir, 'power.csv')).size / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(
    `  ${(samples / wall).toFixed(0)} samples/s wall, ${(samples / cpuSeconds).toFixed(0)} samples per CPU-second, ${((cpuSeconds / samples) * 1e6).toFixed(2)} µs CPU per sample`,
  );
  console.log(
    `  ratio to one ${String(PORTS)}-port meter at 50 Hz (${String(meter)} samples/s): ${(samples / cpuSeconds / meter).toFixed(0)}× (target: 200,000 samples/s)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
