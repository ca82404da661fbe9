import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { otlpReceiverFactory } from '../../receivers/otlp/index.ts';
import { Secret } from '../../kit/config-types.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { requestHeaders } from './client.ts';
import type { RemoteWriteConfig } from './config.ts';
import { configSchema } from './config.ts';
import { prometheusRemoteWriteFactory } from './index.ts';

const registry = createRegistry([otlpReceiverFactory, prometheusRemoteWriteFactory]);
const dir = join(import.meta.dirname, 'testdata/config');

function problems(file: string): readonly string[] {
  try {
    loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('prometheusremotewrite exporter config', () => {
  it.each([
    [
      'bad-endpoint.yaml',
      'exporters.prometheusremotewrite.endpoint: unsupported scheme "prometheus": use http:// or https://',
    ],
    [
      'bad-auth-both.yaml',
      'exporters.prometheusremotewrite.auth: bearer_token and basic_auth exclude each other',
    ],
    [
      'bad-num-consumers.yaml',
      'exporters.prometheusremotewrite.sending_queue.num_consumers: must be 1: series are spread over `shards` senders instead, so that the samples of each arrive in order',
    ],
    [
      'bad-external-label.yaml',
      'exporters.prometheusremotewrite.external_labels.__replica__: must be a label name: letters, digits and _, not starting with a digit or __',
    ],
    [
      'bad-reserved-header.yaml',
      'exporters.prometheusremotewrite.headers.Content-Encoding: set by the protocol; cannot be changed',
    ],
    [
      'bad-credentials-in-url.yaml',
      'exporters.prometheusremotewrite.endpoint: credentials do not belong in the URL: use auth.basic_auth',
    ],
    [
      'bad-unknown-key.yaml',
      'exporters.prometheusremotewrite.shard: unknown key (a typo? see `inframeter components`)',
    ],
  ])('%s fails with its path', (file, message) => {
    expect(problems(file)).toEqual([message]);
  });

  it('fills defaults, keeps credentials secret and builds the protocol headers', () => {
    const config = loadConfigText(
      readFileSync(join(dir, 'good-gateway.yaml'), 'utf8'),
      'good-gateway.yaml',
      registry,
      { RW_PASSWORD: 'pa55' },
    );
    const exporter = config.exporters.get('prometheusremotewrite')!.config as RemoteWriteConfig;
    expect(exporter.auth.basic_auth?.password).toBeInstanceOf(Secret);
    expect(JSON.stringify(exporter.auth)).not.toContain('pa55');
    expect(exporter).toMatchObject({
      timeout: 30_000,
      shards: 4,
      max_samples_per_send: 2000,
      add_metric_suffixes: true,
      target_info: { enabled: true },
      stale_markers: { enabled: true, idle_timeout: 300_000 },
      external_labels: { cluster: 'lyon' },
      sending_queue: { storage: 'file', directory: '/var/lib/inframeter/queue/prw', num_consumers: 1 },
    });
    expect(requestHeaders(exporter, 'inframeter/test')).toEqual({
      authorization: `Basic ${Buffer.from('inframeter:pa55').toString('base64')}`,
      'x-scope-orgid': 'lab',
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'inframeter/test',
    });
  });

  it('sends a bearer token', () => {
    const config = configSchema.parse({
      endpoint: 'http://127.0.0.1:9090/api/v1/write',
      auth: { bearer_token: 't0k' },
    });
    expect(requestHeaders(config, 'x').authorization).toBe('Bearer t0k');
  });
});
