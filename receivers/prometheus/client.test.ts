import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../kit/errors.ts';
import { ExpositionClient } from './client.ts';

// The exposition client against a real HTTP server on loopback: the body's size bound, the
// deadline over a body that trickles, and one request in flight per target.

let server: Server | undefined;
let base = '';
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    if (req.url === '/big') {
      // 4 MiB in 64 KiB chunks.
      const chunk = `# ${'x'.repeat(65_533)}\n`;
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
    } else if (req.url === '/slow') {
      res.write('# TYPE a gauge\n');
      const timer = setInterval(() => res.write('#'), 200);
      res.on('close', () => {
        clearInterval(timer);
      });
    } else res.end('a 1\n');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((server.address() as { port: number }).port)}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('exposition client', () => {
  it('reads an exposition', async () => {
    expect(await new ExpositionClient().get(`${base}/ok`, 'text/plain', 5000)).toEqual({
      contentType: 'text/plain; version=0.0.4',
      text: 'a 1\n',
    });
  });

  it('stops reading a body past its bound', async () => {
    await expect(
      new ExpositionClient(fetch, 1024 * 1024).get(`${base}/big`, 'text/plain', 10_000),
    ).rejects.toThrow('exposition over 1048576 bytes: not read further');
  });

  it('cuts a trickling body off at the deadline, and sends no second request meanwhile', async () => {
    const client = new ExpositionClient();
    const before = requests;
    const first = client.get(`${base}/slow`, 'text/plain', 1000);
    await expect(client.get(`${base}/slow`, 'text/plain', 1000)).rejects.toThrow(
      /previous call has not ended/,
    );
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    expect(requests - before).toBe(1);
  });
});
