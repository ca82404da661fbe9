import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentManager } from '../extensions/experiments/manager.ts';
import { ControlServer } from '../extensions/experiments/server.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { fuzzParameters, fuzzTimeout } from './support/fuzz.ts';

// The control API on loopback, fed arbitrary requests — methods, paths with malformed
// percent-escapes and dot segments, bodies that are not JSON or are JSON of every shape,
// durations of every size: it answers a 2xx or a 4xx, never a 500, and keeps answering.

const TOKEN = 'fuzz-token';
let dir = '';
let server: ControlServer | undefined;
let port = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inframeter-control-fuzz-'));
  const manager = new ExperimentManager(join(dir, 'experiments'), createSilentLogger(), new Map(), []);
  server = new ControlServer(manager, TOKEN, createSilentLogger(), { proxyTargets: [] });
  await server.listen({ host: '127.0.0.1', port: 0 });
  port = server.address()?.port ?? 0;
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One raw request (the path is sent as is, not normalised by a URL parser). */
function send(method: string, path: string, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const segment = fc.oneof(
  fc.constantFrom('experiments', 'proxy', 'ping', 'start', 'stop', 'results', '..', '.', '', 'x'),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
  fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|%[G-Zg-z]{2}|[a-z]){1,6}$/),
  fc.stringMatching(/^[a-z0-9.-]{1,10}:\d{1,6}$/),
);

const durationText = fc.oneof(
  fc.stringMatching(/^\d{1,15}(ms|s|m|h)$/),
  fc.string({ maxLength: 12 }),
  fc.constant('99999999999h'),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 40 }),
  fc.json({ maxDepth: 3 }),
  fc
    .record(
      {
        labels: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
        interval: durationText,
        receivers: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

describe('control API under arbitrary requests', () => {
  it(
    'answers 2xx or 4xx, never 5xx',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'),
          fc.array(segment, { minLength: 1, maxLength: 4 }),
          fc.option(fc.stringMatching(/^[a-z=&%0-9]{0,10}$/), { nil: undefined }),
          body,
          async (method, segments, query, payload) => {
            const path = `/${segments.join('/')}${query === undefined ? '' : `?${query}`}`;
            const status = await send(method, path, payload);
            expect(status, `${method} ${path} ${payload ?? ''}`).toBeGreaterThanOrEqual(200);
            expect(status, `${method} ${path} ${payload ?? ''}`).toBeLessThan(500);
          },
        ),
        fuzzParameters(300),
      );
      // Still answering.
      expect(await send('GET', '/ping', undefined)).toBe(200);
    },
    fuzzTimeout(),
  );
});
