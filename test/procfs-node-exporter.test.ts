import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcfsClient } from '../receivers/procfs/client.ts';
import { procfsConfigSchema } from '../receivers/procfs/config.ts';
import { ProcfsScraper } from '../receivers/procfs/scraper.ts';
import { scrapeOnce } from './support/settings.ts';
import type { ExpositionSample, Peer, Row } from './support/peers.ts';
import { freePort, missing, parseSamples, poll, rowsOf, startPeer } from './support/peers.ts';

// The same host read by prometheus-node-exporter and by the procfs receiver. Counters are
// read by us, then by node_exporter, then by us again: node_exporter's value must lie
// between our two readings (tolerance: none beyond that bracket). Gauges that move on
// their own (MemAvailable) agree within 2 % of MemTotal.
const skip = missing('prometheus-node-exporter', 'prometheus-node-exporter');

describe.skipIf(skip)('procfs receiver against prometheus-node-exporter on this host', () => {
  let peer: Peer | undefined;
  let url = '';

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${String(port)}/metrics`;
    peer = startPeer('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${String(port)}`,
      '--no-collector.systemd',
      // node_exporter leaves lo out by default; we compare it.
      '--collector.netdev.device-exclude=^$',
    ]);
    await poll('node_exporter ready', 30_000, async () => ((await fetch(url)).ok ? true : undefined));
  });

  afterAll(async () => {
    await peer?.stop();
  });

  async function readAll(): Promise<{ before: Row[]; theirs: ExpositionSample[]; after: Row[] }> {
    const scraper = new ProcfsScraper(createProcfsClient('/'), procfsConfigSchema.parse({}));
    const first = await scrapeOnce(scraper);
    const response = await fetch(url);
    const theirs = parseSamples(await response.text());
    const second = await first.runner.run(10_000);
    return { before: rowsOf(first.batch), theirs, after: rowsOf(second.batch) };
  }

  const ours = (rows: Row[], metric: string, attributes: Record<string, unknown>): number => {
    const row = rows.find(
      (r) =>
        r.metric === metric &&
        Object.entries(attributes).every(([k, v]) => r.attributes[k] === v) &&
        Object.keys(r.attributes).length === Object.keys(attributes).length,
    );
    if (row === undefined) throw new Error(`no ${metric} ${JSON.stringify(attributes)} in our scrape`);
    return row.value as number;
  };
  const theirsOf = (samples: ExpositionSample[], name: string, labels: Record<string, string>): number => {
    const sample = samples.find(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (sample === undefined) throw new Error(`no ${name} ${JSON.stringify(labels)} from node_exporter`);
    return sample.value;
  };

  it('CPU seconds per cpu and mode lie between our two readings', async () => {
    const { before, theirs, after } = await readAll();
    const modes: Record<string, string> = {
      user: 'user',
      nice: 'nice',
      system: 'system',
      idle: 'idle',
      iowait: 'iowait',
      irq: 'interrupt',
      softirq: 'softirq',
      steal: 'steal',
    };
    const cpus = theirs.filter((s) => s.name === 'node_cpu_seconds_total' && s.labels.mode === 'user');
    expect(cpus.length).toBeGreaterThan(0);
    for (const cpu of cpus.map((s) => s.labels.cpu ?? '')) {
      for (const [theirMode, ourMode] of Object.entries(modes)) {
        const attributes = { 'cpu.logical_number': Number(cpu), 'cpu.mode': ourMode };
        const value = theirsOf(theirs, 'node_cpu_seconds_total', { cpu, mode: theirMode });
        expect(value, `cpu ${cpu} ${theirMode}`).toBeGreaterThanOrEqual(
          ours(before, 'system.cpu.time', attributes) - 1e-9,
        );
        expect(value, `cpu ${cpu} ${theirMode}`).toBeLessThanOrEqual(
          ours(after, 'system.cpu.time', attributes) + 1e-9,
        );
      }
    }
  });

  it('memory total is equal, available within 2 % of the total', async () => {
    const { before, theirs } = await readAll();
    const total = theirsOf(theirs, 'node_memory_MemTotal_bytes', {});
    expect(ours(before, 'system.memory.limit', {})).toBe(total);
    const available = theirsOf(theirs, 'node_memory_MemAvailable_bytes', {});
    expect(Math.abs(ours(before, 'system.memory.linux.available', {}) - available)).toBeLessThan(
      total * 0.02,
    );
  });

  it('bytes and packets on lo lie between our two readings', async () => {
    const { before, theirs, after } = await readAll();
    for (const [name, metric] of [
      ['node_network_receive_bytes_total', 'system.network.io'],
      ['node_network_transmit_bytes_total', 'system.network.io'],
      ['node_network_receive_packets_total', 'system.network.packet.count'],
    ] as const) {
      const direction = name.includes('receive') ? 'receive' : 'transmit';
      const attributes = { 'network.interface.name': 'lo', 'network.io.direction': direction };
      const value = theirsOf(theirs, name, { device: 'lo' });
      expect(value, name).toBeGreaterThanOrEqual(ours(before, metric, attributes));
      expect(value, name).toBeLessThanOrEqual(ours(after, metric, attributes));
    }
  });

  it('disk reads (operations and bytes) lie between our two readings for every disk', async () => {
    const { before, theirs, after } = await readAll();
    const disks = before
      .filter((r) => r.metric === 'system.disk.operations' && r.attributes['disk.io.direction'] === 'read')
      .map((r) => String(r.attributes['system.device']));
    const compared = disks.filter((d) =>
      theirs.some((s) => s.name === 'node_disk_reads_completed_total' && s.labels.device === d),
    );
    expect(compared.length).toBeGreaterThan(0);
    for (const device of compared) {
      const read = { 'system.device': device, 'disk.io.direction': 'read' };
      const ops = theirsOf(theirs, 'node_disk_reads_completed_total', { device });
      expect(ops, device).toBeGreaterThanOrEqual(ours(before, 'system.disk.operations', read));
      expect(ops, device).toBeLessThanOrEqual(ours(after, 'system.disk.operations', read));
      const bytes = theirsOf(theirs, 'node_disk_read_bytes_total', { device });
      expect(bytes, device).toBeGreaterThanOrEqual(ours(before, 'system.disk.io', read));
      expect(bytes, device).toBeLessThanOrEqual(ours(after, 'system.disk.io', read));
    }
  });
});
