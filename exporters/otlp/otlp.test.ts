import { describe, expect, it } from 'vitest';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { OtlpExporter } from './otlp.ts';

describe('otlp exporter lifecycle', () => {
  it('shuts down without start, and twice', async () => {
    const exporter = new OtlpExporter(
      createTestSettings('otlp', 'exporter'),
      configSchema.parse({ endpoint: '127.0.0.1:4317' }),
    );
    await exporter.shutdown();
    await exporter.shutdown();
  });

  it('starts, flushes an empty queue and shuts down', async () => {
    const exporter = new OtlpExporter(
      createTestSettings('otlp', 'exporter'),
      configSchema.parse({ endpoint: 'http://127.0.0.1:4318', protocol: 'http/protobuf' }),
    );
    await exporter.start();
    await exporter.forceFlush();
    await exporter.shutdown();
    await exporter.shutdown();
  });

  it('describes where it sends', () => {
    const settings = createTestSettings('otlp', 'exporter');
    expect(new OtlpExporter(settings, configSchema.parse({ endpoint: 'gw:4317' })).describe()).toBe(
      'OTLP/gRPC gw:4317, memory queue',
    );
    expect(
      new OtlpExporter(
        settings,
        configSchema.parse({
          endpoint: 'https://gw',
          protocol: 'http/protobuf',
          sending_queue: { storage: 'file', directory: '/var/lib/q' },
        }),
      ).describe(),
    ).toBe('OTLP/HTTP https://gw:443/v1/metrics, queue in /var/lib/q');
  });
});
