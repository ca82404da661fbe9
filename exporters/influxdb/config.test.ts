import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { otlpReceiverFactory } from '../../receivers/otlp/index.ts';
import { Secret } from '../../kit/config-types.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import type { InfluxdbExporterConfig } from './config.ts';
import { writeUrl } from './config.ts';
import { influxdbExporterFactory } from './index.ts';

const registry = createRegistry([otlpReceiverFactory, influxdbExporterFactory]);
const dir = join(import.meta.dirname, 'testdata/config');
const env = { INFLUX_PASSWORD: 'pw-7', INFLUX_TOKEN: 'tok-9' };

function problems(file: string): readonly string[] {
  try {
    loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function load(file: string): InfluxdbExporterConfig {
  const config = loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, env);
  return config.exporters.get('influxdb')!.config as InfluxdbExporterConfig;
}

describe('influxdb exporter config', () => {
  it.each([
    [
      'bad-endpoint.yaml',
      ['exporters.influxdb.endpoint: unsupported scheme "influx": use http:// or https://'],
    ],
    ['bad-v1-without-database.yaml', ['exporters.influxdb.database: required with api_version 1']],
    [
      'bad-v2-keys.yaml',
      [
        'exporters.influxdb.org: required with api_version 2',
        'exporters.influxdb.database: not used with api_version 2',
      ],
    ],
    ['bad-user-without-password.yaml', ['exporters.influxdb.password: username and password go together']],
    [
      'bad-schema.yaml',
      ['exporters.influxdb.schema: Invalid option: expected one of "otel"|"cs_pulse_sensor"'],
    ],
    [
      'bad-credentials-in-url.yaml',
      ['exporters.influxdb.endpoint: no credentials in the URL: use username/password or token'],
    ],
  ])('%s fails with its path', (file, expected) => {
    expect(problems(file)).toEqual(expected);
  });

  it('builds the 1.x write URL and keeps the password secret', () => {
    const config = load('good-v1.yaml');
    expect(config.password).toBeInstanceOf(Secret);
    expect(config.password!.reveal()).toBe('pw-7');
    expect(JSON.stringify(config)).not.toContain('pw-7');
    expect(writeUrl(config).toString()).toBe('http://influx:8086/write?db=puls&rp=four+weeks&precision=s');
    expect(config).toMatchObject({ schema: 'cs_pulse_sensor', compression: 'gzip', timeout: 10_000 });
  });

  it('builds the 2.x write URL under a path prefix and keeps the token secret', () => {
    const config = load('good-v2.yaml');
    expect(config.token!.reveal()).toBe('tok-9');
    expect(JSON.stringify(config)).not.toContain('tok-9');
    expect(writeUrl(config).toString()).toBe(
      'https://influx.example.com/prefix/api/v2/write?org=my+org&bucket=metrics&precision=ns',
    );
    expect(config.sending_queue.storage).toBe('file');
  });
});
