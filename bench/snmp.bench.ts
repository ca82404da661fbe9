/**
 * The snmp receiver polling many OIDs: several targets pointing at the same Debian snmpd
 * (IF-MIB table through the if_mib profile, plus the lab scalars), measured beside Debian's
 * snmpbulkwalk/snmpget fetching the same OIDs in the same run.
 *
 *   node bench/snmp.bench.ts [targets] [scrapes]
 *
 * Prints data points per second and CPU per point of the receiver, wall time and CPU of the
 * command-line tools, and the ratio. Needs the Debian packages snmpd and snmp.
 */
import { execFile } from 'node:child_process';
import { ScrapeRunner } from '../kit/scrape-controller.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { createNetSnmpClient } from '../receivers/snmp/client.ts';
import { configSchema } from '../receivers/snmp/config.ts';
import { planPoll } from '../receivers/snmp/parse/plan.ts';
import { SnmpScraper } from '../receivers/snmp/scraper.ts';
import { labConfig } from '../receivers/snmp/testdata/lab.ts';
import { SNMPBULKWALK, SNMPGET, hasSnmpd, startSnmpd } from '../receivers/snmp/testdata/snmpd.ts';
import { createTestSettings } from '../test/support/settings.ts';

const TARGETS = Number(process.argv[2] ?? 8);
const SCRAPES = Number(process.argv[3] ?? 30);
const MAX_REPETITIONS = 20;

if (!hasSnmpd()) {
  console.error('install the Debian packages snmpd and snmp');
  process.exit(1);
}

/** Runs a shell script under /usr/bin/time: wall, user and system seconds, children included. */
function timed(script: string): Promise<{ wall: number; user: number; system: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/time',
      ['-f', 'TIME %e %U %S', 'bash', '-c', script],
      { maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`${script.slice(0, 80)}…: ${error.message}`, { cause: error }));
          return;
        }
        const match = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
        if (match === null) {
          reject(new Error(`no timing in ${stderr}`));
          return;
        }
        resolve({ wall: Number(match[1]), user: Number(match[2]), system: Number(match[3]), output: stdout });
      },
    );
  });
}

const snmpd = await startSnmpd();
try {
  const config = configSchema.parse(
    labConfig(
      snmpd.port,
      Array.from({ length: TARGETS }, (_, i) => ({ name: `lab${i}`, max_repetitions: MAX_REPETITIONS })),
    ),
  );
  let now = 0;
  const scraper = new SnmpScraper({ config, client: createNetSnmpClient(), clock: { monotonic: () => now } });
  const runner = new ScrapeRunner(scraper, createTestSettings('snmp/bench', 'receiver'));
  const scrapeOnce = async (): Promise<number> => {
    now += config.collection_interval;
    const { batch } = await runner.run(30_000);
    return countPoints(batch);
  };
  for (let i = 0; i < 3; i++) await scrapeOnce();

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let points = 0;
  for (let i = 0; i < SCRAPES; i++) points += await scrapeOnce();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await runner.shutdown();

  const target = config.targets[0];
  if (target === undefined) throw new Error('no target');
  const plan = planPoll(target.profiles.map((p) => p.profile));
  const agent = `127.0.0.1:${snmpd.port}`;
  const common = `-v2c -c public -m '' -On -t 2 -r 0`;
  const perPoll = [
    `${SNMPGET} ${common} ${agent} ${plan.scalars.join(' ')}`,
    ...plan.columns.map((column) => `${SNMPBULKWALK} ${common} -Cr${MAX_REPETITIONS} ${agent} ${column}`),
  ].join('\n');
  const wholeTables = [
    `${SNMPGET} ${common} ${agent} ${plan.scalars.join(' ')}`,
    `${SNMPBULKWALK} ${common} -Cr${MAX_REPETITIONS} ${agent} 1.3.6.1.2.1.2.2`,
    `${SNMPBULKWALK} ${common} -Cr${MAX_REPETITIONS} ${agent} 1.3.6.1.2.1.31.1.1`,
  ].join('\n');
  const loop = (poll: string, output: string): string =>
    `for t in $(seq ${TARGETS}); do (for i in $(seq ${SCRAPES}); do\n${poll}\ndone) > ${output} & done; wait`;

  const lines = (await timed(perPoll)).output.split('\n').filter((l) => l.includes(' = ')).length;
  const peer = await timed(loop(perPoll, '/dev/null'));
  const peerTables = await timed(loop(wholeTables, '/dev/null'));
  const varbindsPerPoll = lines;
  const varbinds = varbindsPerPoll * TARGETS * SCRAPES;
  const peerCpuMs = (peer.user + peer.system) * 1000;
  const peerTablesCpuMs = (peerTables.user + peerTables.system) * 1000;

  const fmt = (n: number, digits = 1): string => n.toFixed(digits);
  console.log(`snmp bench: ${TARGETS} targets × ${SCRAPES} scrapes against one snmpd (if_mib + lab scalars)`);
  console.log(
    `  OIDs per poll: ${plan.scalars.length} scalars, ${plan.columns.length} columns; ${varbindsPerPoll} varbinds`,
  );
  console.log(
    `  receiver:     ${fmt(wallMs / SCRAPES)} ms per scrape, ${points / SCRAPES} data points per scrape, ` +
      `${fmt((points / wallMs) * 1000, 0)} points/s, CPU ${fmt((cpuMs * 1000) / points, 2)} µs per point ` +
      `(${fmt((cpuMs * 1000) / varbinds, 2)} µs per varbind), ${fmt((cpuMs / wallMs) * 100, 0)} % of a core`,
  );
  console.log(
    `  snmpget + snmpbulkwalk per column (same OIDs, ${TARGETS} in parallel): ${fmt((peer.wall * 1000) / SCRAPES)} ms per round, ` +
      `CPU ${fmt((peerCpuMs * 1000) / varbinds, 2)} µs per varbind`,
  );
  console.log(
    `  snmpget + snmpbulkwalk of ifTable and ifXTable (all their columns): ${fmt((peerTables.wall * 1000) / SCRAPES)} ms per round, ` +
      `CPU ${fmt(peerTablesCpuMs / (TARGETS * SCRAPES), 2)} ms per poll`,
  );
  console.log(
    `  ratio receiver / same-OID tools: wall ${fmt(wallMs / (peer.wall * 1000), 2)}, CPU ${fmt(cpuMs / peerCpuMs, 2)}; ` +
      `receiver / whole-table tools: wall ${fmt(wallMs / (peerTables.wall * 1000), 2)}, CPU ${fmt(cpuMs / peerTablesCpuMs, 2)}`,
  );
} finally {
  await snmpd.stop();
}
