import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../service/commands/list-components.ts';
import { createRegistry, loadConfigText } from '../../service/config.ts';
import { ConfigError } from '../../kit/errors.ts';
import { createTestFactories, createTestStore } from '../../test/support/test-components.ts';
import { configSchema } from './config.ts';
import type { SnmpConfig } from './config.ts';
import { snmpFactory } from './factory.ts';
import { BUILTIN_PROFILES } from './profiles/builtin.ts';

const registry = createRegistry([snmpFactory, ...createTestFactories(createTestStore())]);
const dir = join(import.meta.dirname, 'testdata', 'config');
const env = {
  SNMP_COMMUNITY: 'c0mmunity',
  SNMP_AUTH_PASSWORD: 'auth-secret',
  SNMP_PRIV_PASSWORD: 'priv-secret',
};

function load(file: string): SnmpConfig {
  const config = loadConfigText(readFileSync(join(dir, file), 'utf8'), file, registry, env);
  const [receiver] = config.receivers.values();
  return receiver?.config as SnmpConfig;
}

function problemsOf(file: string): readonly string[] {
  try {
    load(file);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`${file} was accepted`);
}

describe('snmp config', () => {
  it('defaults to no targets, 32 at a time', () => {
    const config = configSchema.parse({});
    expect(config).toMatchObject({ collection_interval: 10_000, max_concurrent_targets: 32, targets: [] });
    expect(config.instruments.size).toBe(0);
  });

  it('parses a full config: shared credentials, in-place credentials, user and built-in profiles', () => {
    const config = load('good-full.yaml');
    expect(config.collection_interval).toBe(30_000);
    expect(config.max_concurrent_targets).toBe(64);
    const [pdu, ups, px] = config.targets;
    expect(pdu).toMatchObject({
      name: 'rack12-pdu-a',
      device_id: 'rack12-pdu-a',
      address: '10.0.12.5',
      port: 161,
      transport: 'udp4',
      interval: 30_000,
      timeout: 2000,
      retries: 1,
      max_repetitions: 20,
      attributes: { rack: '12' },
      auth: {
        version: 'v3',
        user: 'monitor',
        security_level: 'auth_priv',
        auth_protocol: 'sha256',
        priv_protocol: 'aes256r',
      },
    });
    expect(pdu?.profiles.map((p) => p.name)).toEqual(['apc_rpdu', 'if_mib']);
    expect(pdu?.profiles[0]?.profile).toBe(BUILTIN_PROFILES.get('apc_rpdu'));
    if (pdu?.auth.version !== 'v3') throw new Error('expected v3');
    expect(pdu.auth.auth_password?.reveal()).toBe('auth-secret');
    expect(String(pdu.auth.priv_password)).toBe('[REDACTED]');
    expect(JSON.stringify(config)).not.toContain('secret');
    expect(ups).toMatchObject({
      name: '10.0.12.6:1161',
      device_id: 'rack12-ups',
      interval: 60_000,
      timeout: 1000,
      retries: 2,
    });
    if (ups?.auth.version !== 'v2c') throw new Error('expected v2c');
    expect(ups.auth.community.reveal()).toBe('c0mmunity');
    const metric = ups.profiles[0]?.profile.scalars.metrics[0];
    expect(metric).toMatchObject({
      name: 'hw.power',
      oid: '1.3.6.1.4.1.318.1.1.1.4.2.8.0',
      instrument: 'gauge',
      unit: 'W',
    });
    expect(px).toMatchObject({ name: '[fd00::12]:161', transport: 'udp6', auth: { version: 'v1' } });
    expect([...config.instruments.keys()].sort()).toEqual([
      'hw.energy',
      'hw.errors',
      'hw.network.bandwidth.limit',
      'hw.network.io',
      'hw.network.packets',
      'hw.network.up',
      'hw.power',
      'inframeter.snmp.current',
      'system.network.packet.dropped',
    ]);
  });

  it.each([
    ['bad-v3-no-user.yaml', ['receivers.snmp.auth.pdus.user: required when version is v3']],
    [
      'bad-auth-priv-passwords.yaml',
      [
        'receivers.snmp.auth.pdus.auth_password: must be at least 8 characters',
        'receivers.snmp.auth.pdus.priv_password: required when security_level is auth_priv',
        'receivers.snmp.auth.switches.priv_password: not used when security_level is no_auth_no_priv',
      ],
    ],
    [
      'bad-credentials.yaml',
      [
        'receivers.snmp.auth.campus.user: only with version v3',
        'receivers.snmp.auth.campus.community: required when version is v2c',
        'receivers.snmp.auth.legacy.community: required when version is v1',
        'receivers.snmp.auth.pdus.community: only with version v1 or v2c',
        'receivers.snmp.targets[0].auth.comunity: unknown key (a typo? see `inframeter components`)',
        'receivers.snmp.targets[0].auth.community: required when version is v2c',
      ],
    ],
    [
      'bad-unknown-references.yaml',
      [
        'receivers.snmp/racks.profiles.if_mib: is a built-in profile: choose another name',
        'receivers.snmp/racks.targets[0].profiles[1]: unknown profile "apc" (built in: if_mib, raritan_px, apc_rpdu; defined under profiles: if_mib)',
        'receivers.snmp/racks.targets[1].auth: unknown auth "pdus" (defined under auth: campus)',
      ],
    ],
    [
      'bad-profile.yaml',
      [
        'receivers.snmp.profiles.ups.scalars.metrics[0].oid: must be a numeric OID such as 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)',
        'receivers.snmp.profiles.ups.scalars.metrics[1].instrument: required for a metric outside the catalogue of the snmp receiver: gauge, counter or updowncounter',
        'receivers.snmp.profiles.ups.scalars.metrics[2].instrument: hw.energy is a counter (see the metric table of the snmp receiver)',
        'receivers.snmp.profiles.ups.tables[0].attributes[0].name: needs exactly one of value, oid and index',
        'receivers.snmp.profiles.ups.tables[0].metrics: a table needs at least one metric',
      ],
    ],
    [
      'bad-targets.yaml',
      [
        'receivers.snmp.targets[0].timeout: timeout × (retries + 1) = 10s must be shorter than the scrape timeout (10s)',
        'receivers.snmp.targets[1].address: target "10.0.0.5:161" is already targets[0]: give one of them another name',
        'receivers.snmp.targets[1].attributes.hw.id: is set by if_mib',
        'receivers.snmp.targets[1].attributes.device.id: is set by the receiver',
        'receivers.snmp.targets[1].interval: must not be shorter than collection_interval (10s)',
      ],
    ],
  ])('%s fails with its path', (file, expected) => {
    expect(problemsOf(file)).toEqual(expected);
  });

  it('rejects a unit other than the catalogue’s, and two profiles that disagree on a metric', () => {
    const result = configSchema.safeParse({
      profiles: {
        a: { scalars: { metrics: [{ name: 'hw.power', oid: '1.3.6.1.4.1.1.0', unit: 'kW' }] } },
        b: { scalars: { metrics: [{ name: 'lab.x', oid: '1.3.6.1.4.1.2.0', instrument: 'gauge' }] } },
        c: { scalars: { metrics: [{ name: 'lab.x', oid: '1.3.6.1.4.1.3.0', instrument: 'counter' }] } },
      },
    });
    expect(result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'profiles.a.scalars.metrics.0.unit: hw.power is in W: use scale_factor to convert',
    ]);
    const disagree = configSchema.safeParse({
      profiles: {
        b: { scalars: { metrics: [{ name: 'lab.x', oid: '1.3.6.1.4.1.2.0', instrument: 'gauge' }] } },
        c: { scalars: { metrics: [{ name: 'lab.x', oid: '1.3.6.1.4.1.3.0', instrument: 'counter' }] } },
      },
    });
    expect(disagree.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'profiles.c.scalars.metrics.0.instrument: lab.x is a gauge in 1 in profile b',
    ]);
  });

  it('lists its keys and defaults for `inframeter components`', () => {
    const lines = describeConfig(snmpFactory);
    expect(lines).toContain('    max_concurrent_targets: integer (default 32)');
    expect(lines).toContain('    targets: list of object (optional)');
  });
});
