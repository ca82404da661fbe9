/**
 * Writes frames in `wattmetre-read`'s format to stdout, as the meter would:
 *   node generator.ts FRAMES HZ START_TIME [REALTIME] [PORTS]
 * Without PORTS: port 0 draws 100 W, port 1 200 W + the frame number, port 2 has no
 * reading; frame 10 is flagged by the meter (not OK) and a garbage line follows frame 20.
 * With PORTS: every frame valid, port p of frame i draws i + p / 100 W (every sample
 * distinct). Timestamps are START_TIME + i / HZ, so expected values are exact. With
 * REALTIME=1 frames are paced at HZ (against the clock, without drift).
 */
const frames = Number(process.argv[2] ?? 50);
const hz = Number(process.argv[3] ?? 50);
const start = Number(process.argv[4] ?? 1_795_000_000);
const realtime = process.argv[5] === '1';
const ports = process.argv[6] === undefined ? undefined : Number(process.argv[6]);
const began = performance.now();

for (let i = 0; i < frames; i++) {
  const t = (start + i / hz).toFixed(3);
  if (ports === undefined) {
    const status = i === 10 ? 'ERR' : 'OK';
    process.stdout.write(`wattmetre1,${String(i)},${t},${status},100,${String(200 + i)},\n`);
    if (i === 20) process.stdout.write('garbage\n');
  } else {
    const watts = Array.from({ length: ports }, (_, p) => String(i + p / 100)).join(',');
    process.stdout.write(`wattmetre1,${String(i)},${t},OK,${watts}\n`);
  }
  if (realtime) {
    const due = began + ((i + 1) * 1000) / hz;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
}
