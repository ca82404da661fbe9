import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { otlpReceiverFactory } from '../../receivers/otlp/index.ts';
import { Secret } from '../../kit/config-types.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import type { OtlpExporterConfig } from './config.ts';
import { resolveEndpointOrProblem } from './config.ts';
import { otlpExporterFactory } from './index.ts';

const registry = createRegistry([otlpReceiverFactory, otlpExporterFactory]);
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

describe('otlp exporter config', () => {
  it.each([
    [
      'bad-endpoint.yaml',
      'exporters.otlp.endpoint: expected host:port or http(s)://host:port, got "gateway without port"',
    ],
    [
      'bad-tls-files-without-tls.yaml',
      'exporters.otlp.tls: ca_file, cert_file and key_file need TLS: use an https:// endpoint or drop tls.insecure',
    ],
    ['bad-cert-without-key.yaml', 'exporters.otlp.tls.key_file: cert_file and key_file go together'],
    ['bad-queue-directory.yaml', 'exporters.otlp.sending_queue.directory: required when storage is file'],
    ['bad-unknown-key.yaml', 'exporters.otlp.compresion: unknown key (a typo? see `inframeter components`)'],
    [
      'bad-retry-intervals.yaml',
      'exporters.otlp.retry_on_failure.initial_interval: must not be longer than max_interval',
    ],
    ['bad-protocol.yaml', 'exporters.otlp.protocol: Invalid option: expected one of "grpc"|"http/protobuf"'],
  ])('%s fails with its path', (file, message) => {
    expect(problems(file)).toEqual([message]);
  });

  it('fills defaults and keeps header values secret, read from the environment', () => {
    const config = loadConfigText(
      readFileSync(join(dir, 'good-agent.yaml'), 'utf8'),
      'good-agent.yaml',
      registry,
      { OTLP_TOKEN: 'tok-9' },
    );
    const exporter = config.exporters.get('otlp')!.config as OtlpExporterConfig;
    const header = exporter.headers.authorization;
    expect(header).toBeInstanceOf(Secret);
    expect(header!.reveal()).toBe('Bearer tok-9');
    expect(JSON.stringify(exporter.headers)).toBe('{"authorization":"[REDACTED]"}');
    expect(exporter).toMatchObject({
      protocol: 'grpc',
      compression: 'gzip',
      timeout: 10_000,
      temporality: 'delta',
      tls: { insecure: false, insecure_skip_verify: false },
      sending_queue: {
        enabled: true,
        storage: 'file',
        directory: '/var/lib/inframeter/queue',
        num_consumers: 1,
      },
      retry_on_failure: {
        enabled: true,
        initial_interval: 5_000,
        max_interval: 30_000,
        // max_elapsed_time unset: 5m for a memory queue, never for a persistent one.
      },
    });
  });

  it('reports an unset token variable', () => {
    expect(() =>
      loadConfigText(readFileSync(join(dir, 'good-agent.yaml'), 'utf8'), 'good-agent.yaml', registry, {}),
    ).toThrow(/OTLP_TOKEN/);
  });

  it('resolves endpoints for each protocol', () => {
    expect(resolveEndpointOrProblem('gateway:4317', 'grpc', false)).toEqual({
      host: 'gateway',
      port: 4317,
      secure: true,
      target: 'gateway:4317',
    });
    expect(resolveEndpointOrProblem('gateway:4317', 'grpc', true)).toMatchObject({ secure: false });
    expect(resolveEndpointOrProblem('http://127.0.0.1:4317', 'grpc', false)).toEqual({
      host: '127.0.0.1',
      port: 4317,
      secure: false,
      target: '127.0.0.1:4317',
    });
    expect(resolveEndpointOrProblem('https://gw', 'grpc', false)).toMatchObject({ port: 4317, secure: true });
    expect(resolveEndpointOrProblem('http://gw:4318', 'http/protobuf', false)).toMatchObject({
      target: 'http://gw:4318/v1/metrics',
      secure: false,
    });
    expect(
      resolveEndpointOrProblem('https://otlp.example.com/otlp/v1/metrics', 'http/protobuf', false),
    ).toMatchObject({
      target: 'https://otlp.example.com:443/otlp/v1/metrics',
    });
    expect(resolveEndpointOrProblem('[::1]:4318', 'http/protobuf', true)).toMatchObject({
      host: '::1',
      target: 'http://[::1]:4318/v1/metrics',
    });
    expect(resolveEndpointOrProblem('ftp://x:1', 'grpc', false)).toBe(
      'unsupported scheme "ftp": use http:// or https://',
    );
    expect(resolveEndpointOrProblem('http://x:1/path', 'grpc', false)).toBe('a gRPC endpoint has no path');
  });
});
