import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { otlpExporterFactory } from '../../exporters/otlp/index.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { renderMetricTable } from '../../kit/metadata.ts';
import type { OtlpReceiverConfig } from './config.ts';
import { otlpReceiverFactory } from './index.ts';
import { metadata } from './metadata.ts';

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

describe('otlp receiver config', () => {
  it.each([
    ['bad-no-protocol.yaml', 'receivers.otlp.protocols: enable at least one of grpc and http'],
    [
      'bad-endpoint.yaml',
      'receivers.otlp.protocols.http.endpoint: expected host:port such as "127.0.0.1:9464", got "localhost"',
    ],
    ['bad-empty-token.yaml', 'receivers.otlp.auth.bearer_token: must not be empty'],
    [
      'bad-size.yaml',
      'receivers.otlp.protocols.grpc.max_recv_msg_size: expected a size such as "64MiB" or a number of bytes, got "4 megs"',
    ],
    [
      'bad-tls-without-key.yaml',
      'receivers.otlp.protocols.http.tls.key_file: Invalid input: expected string, received undefined',
    ],
  ])('%s fails with its path', (file, message) => {
    expect(problems(file)).toEqual([message]);
  });

  it('fills defaults; an empty protocol entry enables it', () => {
    const config = loadConfigText(
      readFileSync(join(dir, 'good-gateway.yaml'), 'utf8'),
      'good-gateway.yaml',
      registry,
      { OTLP_TOKEN: 't' },
    );
    const receiver = config.receivers.get('otlp')!.config as OtlpReceiverConfig;
    expect(receiver.protocols.grpc).toEqual({
      endpoint: { host: '0.0.0.0', port: 4317 },
      max_recv_msg_size: 16 * 1024 * 1024,
    });
    expect(receiver.protocols.http).toEqual({
      endpoint: { host: '0.0.0.0', port: 4318 },
      max_request_body_size: 20 * 1024 * 1024,
    });
    expect(receiver.auth?.bearer_token.reveal()).toBe('t');
    const defaults = otlpReceiverFactory.configSchema.parse({ protocols: { grpc: null } });
    expect(defaults.protocols).toEqual({
      grpc: { endpoint: { host: '127.0.0.1', port: 4317 }, max_recv_msg_size: 4 * 1024 * 1024 },
    });
  });

  it('README carries the (empty) generated metric table', () => {
    const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
    expect(readme).toContain(renderMetricTable(metadata));
  });
});

describe('otlp receiver lifecycle', () => {
  it('shuts down without start, and twice', async () => {
    const { createTestSettings } = await import('../../test/support/settings.ts');
    const receiver = otlpReceiverFactory.create(
      createTestSettings('otlp', 'receiver'),
      otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } }),
    );
    await receiver.shutdown();
    await receiver.shutdown();
  });
});
