import type { MetricMetadata, ReceiverMetadata } from '../../kit/metadata.ts';

/** Attributes that name the polled device on every data point. */
export const DEVICE_ATTRIBUTES = ['snmp.target', 'device.id'] as const;

const interfaceAttributes = [
  ...DEVICE_ATTRIBUTES,
  'hw.id',
  'hw.type',
  'hw.name',
  'network.interface.name',
  'snmp.if.alias',
];
const pduAttributes = [...DEVICE_ATTRIBUTES, 'hw.id', 'hw.type', 'hw.name', 'hw.parent'];

/**
 * The metrics of the `snmp` receiver: those of its built-in profiles (OpenTelemetry hardware
 * semantic conventions where one exists) and its self-telemetry per target. User-defined
 * profiles may emit any other name; a profile metric whose name is listed here takes its
 * instrument and unit from this catalogue.
 */
export const snmpMetadata = {
  type: 'snmp',
  stability: 'alpha',
  metrics: [
    {
      name: 'hw.network.io',
      instrument: 'counter',
      unit: 'By',
      description:
        'Octets received and transmitted by the interface (IF-MIB ifHCInOctets, ifHCOutOctets; ifInOctets, ifOutOctets where the 64-bit counters are missing).',
      attributes: [...interfaceAttributes, 'network.io.direction'],
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'hw.network.packets',
      instrument: 'counter',
      unit: '{packet}',
      description:
        'Unicast packets received and transmitted (IF-MIB ifHCInUcastPkts, ifHCOutUcastPkts; ifInUcastPkts, ifOutUcastPkts where the 64-bit counters are missing).',
      attributes: [...interfaceAttributes, 'network.io.direction'],
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'hw.errors',
      instrument: 'counter',
      unit: '{error}',
      description: 'Packets that could not be delivered because of errors (IF-MIB ifInErrors, ifOutErrors).',
      attributes: [...interfaceAttributes, 'network.io.direction'],
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'system.network.packet.dropped',
      instrument: 'counter',
      unit: '{packet}',
      description:
        'Packets discarded although no error was detected, e.g. for lack of buffer space (IF-MIB ifInDiscards, ifOutDiscards).',
      attributes: [...interfaceAttributes, 'network.io.direction'],
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'hw.network.up',
      instrument: 'updowncounter',
      unit: '1',
      description: 'Link status: 1 when IF-MIB ifOperStatus is up(1), 0 for any other state.',
      attributes: interfaceAttributes,
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'hw.network.bandwidth.limit',
      instrument: 'updowncounter',
      unit: 'By/s',
      description: 'Link speed (IF-MIB ifHighSpeed in Mb/s; ifSpeed in b/s where ifHighSpeed is missing).',
      attributes: interfaceAttributes,
      group: 'if_mib',
      enabled: true,
    },
    {
      name: 'hw.power',
      instrument: 'gauge',
      unit: 'W',
      description:
        'Active power drawn through a PDU, an inlet, a phase or an outlet (APC rPDU2 …StatusPower, Raritan PDU2-MIB activePower sensors).',
      attributes: pduAttributes,
      group: 'apc_rpdu, raritan_px',
      enabled: true,
    },
    {
      name: 'hw.energy',
      instrument: 'counter',
      unit: 'J',
      description:
        'Active energy drawn through a PDU, an inlet or an outlet since its meter was last reset (APC rPDU2 …StatusEnergy in tenths of kWh, Raritan PDU2-MIB activeEnergy sensors in Wh).',
      attributes: pduAttributes,
      group: 'apc_rpdu, raritan_px',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.current',
      instrument: 'gauge',
      unit: 'A',
      description:
        'RMS current through an inlet, a phase or an outlet (APC rPDU2 …StatusCurrent in tenths of A, Raritan PDU2-MIB rmsCurrent sensors). The hardware semantic conventions define no current metric.',
      attributes: pduAttributes,
      group: 'apc_rpdu, raritan_px',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.poll.duration',
      instrument: 'gauge',
      unit: 's',
      description: 'Wall time of the last poll of the target: every request, successful or not.',
      attributes: [...DEVICE_ATTRIBUTES],
      group: 'self',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.poll.success',
      instrument: 'gauge',
      unit: '1',
      description:
        '1 when the last poll of the target got its answers (some OIDs may still be missing, see inframeter.snmp.varbind.errors), 0 when it failed (timeout, authentication, agent error).',
      attributes: [...DEVICE_ATTRIBUTES],
      group: 'self',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.poll.varbinds',
      instrument: 'gauge',
      unit: '{varbind}',
      description: 'Varbinds received in the last poll of the target.',
      attributes: [...DEVICE_ATTRIBUTES],
      group: 'self',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.poll.errors',
      instrument: 'counter',
      unit: '{error}',
      description:
        'Polls of the target that failed, by `error.type`, and datagrams from it that could not be decoded (`malformed_response`).',
      attributes: [...DEVICE_ATTRIBUTES, 'error.type'],
      group: 'self',
      enabled: true,
    },
    {
      name: 'inframeter.snmp.varbind.errors',
      instrument: 'counter',
      unit: '{varbind}',
      description:
        'OIDs that returned no usable value (the rest of the poll goes on), by `snmp.oid` and `error.type`.',
      attributes: [...DEVICE_ATTRIBUTES, 'snmp.oid', 'error.type'],
      group: 'self',
      enabled: true,
    },
  ] satisfies MetricMetadata[],
  attributes: {
    'snmp.target': 'The target as configured: its `name`, by default `address:port`.',
    'device.id': "The target's `device_id`, by default its name: the device the data describes.",
    'hw.id':
      'The component within the device: `interface<ifIndex>`, `pdu<n>`, `phase<n>`, `outlet<n>`, `pdu<n>.outlet<m>`, `pdu<n>.inlet<m>` (from the row index).',
    'hw.type':
      '`network` for interfaces; `pdu`, `pdu_inlet`, `pdu_phase`, `pdu_outlet` for power distribution (no well-known value applies).',
    'hw.name': 'IF-MIB ifDescr; the PDU, inlet or outlet name set on the device (absent when empty).',
    'hw.parent': 'The `hw.id` of the PDU an inlet or outlet belongs to (Raritan).',
    'network.interface.name': 'IF-MIB ifName.',
    'snmp.if.alias': 'IF-MIB ifAlias, the description an operator gave the interface (absent when empty).',
    'network.io.direction': '`receive` or `transmit`.',
    'error.type':
      'Poll errors: `timeout`, `authentication`, `agent_error`, `malformed_response`, `socket`. Varbind errors: `no_such_object`, `no_such_instance`, `end_of_mib_view`, `malformed`, `not_a_number`, `not_an_integer` (a fractional value of an `int` metric).',
    'snmp.oid': 'The OID (scalar) or column OID (table) that returned no usable value.',
  },
} as const satisfies ReceiverMetadata;

/** The self-telemetry metrics (group `self`): names no profile may use. */
export const SELF_METRIC_NAMES: ReadonlySet<string> = new Set(
  snmpMetadata.metrics.filter((m) => m.group === 'self').map((m) => m.name),
);
