import { describe, expect, it } from 'vitest';
import { parseKwollectUrl, parseMetricsFile } from './parse/metrics-file.ts';
import { translate } from './translate.ts';

describe('kwollect metric files', () => {
  it('reads the three URL schemes', () => {
    expect(parseKwollectUrl('snmp://private@pdu-3.lyon/1.3.6.1.4.1.318.1.1.12.3.5.1.1.7.2')).toEqual({
      scheme: 'snmp',
      community: 'private',
      host: 'pdu-3.lyon',
      port: 161,
      oid: '1.3.6.1.4.1.318.1.1.12.3.5.1.1.7.2',
    });
    expect(parseKwollectUrl('ipmisensor://root:s3cr%40t@bmc-12:623/Pwr Consumption')).toEqual({
      scheme: 'ipmisensor',
      user: 'root',
      password: 's3cr@t',
      host: 'bmc-12',
      port: 623,
      sensor: 'Pwr Consumption',
    });
    expect(parseKwollectUrl('prometheus://node-12:9100/node_load1,node_load5')).toEqual({
      scheme: 'prometheus',
      host: 'node-12',
      port: 9100,
      names: ['node_load1', 'node_load5'],
    });
    expect(() => parseKwollectUrl('modbus://x/1')).toThrow(
      'unknown scheme modbus: (snmp, ipmisensor or prometheus)',
    );
    expect(() => parseKwollectUrl('snmp://host/1.3.6')).toThrow('snmp:// needs a community');
  });

  it('names the entry of a bad field', () => {
    expect(() =>
      parseMetricsFile(
        '- name: x\n  device_id: d\n  url: snmp://c@h/1.2.3\n  update_every: soon\n',
        'pdu.yaml',
      ),
    ).toThrow('pdu.yaml:1: pdu.yaml[0].update_every: a number of milliseconds');
    expect(() => parseMetricsFile('- name: x\n  url: snmp://c@h/1.2.3\n', 'pdu.yaml')).toThrow(
      'pdu.yaml[0].device_id: required, a string',
    );
  });

  it('translates into receiver configurations: a target per agent, community, interval and device', () => {
    const metrics = parseMetricsFile(
      [
        '- { name: p1, device_id: n1, url: "snmp://public@pdu/1.3.6.1.1.0", update_every: 1000, scale_factor: 0.1 }',
        '- { name: p2, device_id: n1, url: "snmp://public@pdu/1.3.6.1.2.0", update_every: 1000 }',
        '- { name: p3, device_id: n2, url: "snmp://public@pdu/1.3.6.1.3.0", update_every: 1000 }',
        '- { name: t, device_id: n1, url: "ipmisensor://u:p@bmc1/4", update_every: 5000 }',
        '- { name: m, device_id: n1, url: "prometheus://n1:9100/node_load1", update_every: 15000 }',
      ].join('\n'),
      'site.yaml',
    );
    const [snmp, ipmi, prometheus] = translate(metrics);
    expect(snmp?.type).toBe('snmp');
    expect(
      (snmp?.config.targets as { device_id: string; profiles: string[] }[]).map((t) => [
        t.device_id,
        t.profiles,
      ]),
    ).toEqual([
      ['n1', ['kwollect_0']],
      ['n2', ['kwollect_1']],
    ]);
    expect(ipmi?.config).toEqual({
      collection_interval: '5000ms',
      targets: [{ host: 'bmc1', name: 'bmc1', username: 'u', password: 'p' }],
    });
    expect(prometheus?.config).toEqual({
      targets: ['http://n1:9100/metrics'],
      collection_interval: '15000ms',
      metrics: ['node_load1(_total)?'],
    });
  });
});
