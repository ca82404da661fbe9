import type { MetricMetadata, ReceiverMetadata } from '../../kit/metadata.ts';

const SENSOR = ['hw.id', 'hw.name', 'hw.type', 'ipmi.sensor.type', 'device.id'];
const m = (
  name: string,
  instrument: MetricMetadata['instrument'],
  unit: string,
  attributes: string[],
  description: string,
  group = 'sensors',
): MetricMetadata => ({
  name,
  instrument,
  unit,
  attributes,
  description,
  group,
  enabled: true,
});

/** Every metric of the ipmi receiver. */
export const ipmiMetadata: ReceiverMetadata = {
  type: 'ipmi',
  stability: 'alpha',
  metrics: [
    m('hw.temperature', 'gauge', 'Cel', SENSOR, 'Temperature sensors (units `degrees C`).'),
    m('hw.fan.speed', 'gauge', 'rpm', SENSOR, 'Fan sensors (units `RPM`).'),
    m('hw.voltage', 'gauge', 'V', SENSOR, 'Voltage sensors (units `Volts`).'),
    m('hw.power', 'gauge', 'W', SENSOR, 'Sensors reading watts (power supplies, components).'),
    m(
      'hw.host.power',
      'gauge',
      'W',
      SENSOR,
      'Whole-host power: a watts sensor whose name says so (`System`, `Total`, `Host`, `Pwr Consumption`), or the DCMI current power (`hw.id` `<device>:dcmi`).',
    ),
    m('inframeter.ipmi.current', 'gauge', 'A', SENSOR, 'Sensors reading amperes.'),
    m(
      'inframeter.ipmi.sensor.value',
      'gauge',
      '1',
      [...SENSOR, 'ipmi.sensor.unit'],
      'Other numeric sensors, with their unit as an attribute.',
    ),
    m(
      'hw.status',
      'updowncounter',
      '1',
      [...SENSOR, 'hw.state'],
      'Sensor state: 1 for the current `hw.state` (`ok` ← Nominal, `degraded` ← Warning, `failed` ← Critical), 0 for the other two.',
    ),
    m(
      'inframeter.ipmi.up',
      'gauge',
      '1',
      ['device.id'],
      '1 when the last read of the BMC succeeded, 0 otherwise.',
      'bmc',
    ),
  ],
  attributes: {
    'hw.id': '`<device>:<SDR record id>` (or `<device>:dcmi`).',
    'hw.name': 'The sensor name the BMC gives (`Inlet Temp`, `PSU1 Power`).',
    'hw.type': '`temperature`, `fan`, `voltage`, `power_supply`, `current` or `other`.',
    'ipmi.sensor.type': 'The IPMI sensor type as FreeIPMI prints it (`Temperature`, `Current`, …).',
    'ipmi.sensor.unit': "The reading's unit as FreeIPMI prints it.",
    'device.id': "The target's `name`, its host otherwise (`localhost` in-band).",
    'hw.state': '`ok`, `degraded` or `failed`.',
  },
};
