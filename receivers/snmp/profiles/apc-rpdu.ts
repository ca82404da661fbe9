import type { ProfileInput } from '../profile.ts';

/** PowerNet-MIB rPDU2DeviceStatusEntry (APC/Schneider rack PDUs, AP8xxx), index rPDU2DeviceStatusIndex. */
const DEVICE_STATUS = '1.3.6.1.4.1.318.1.1.26.4.3.1';
/** PowerNet-MIB rPDU2PhaseStatusEntry, index rPDU2PhaseStatusIndex. */
const PHASE_STATUS = '1.3.6.1.4.1.318.1.1.26.6.3.1';
/** PowerNet-MIB rPDU2OutletMeteredStatusEntry (metered-by-outlet models), index rPDU2OutletMeteredStatusIndex. */
const OUTLET_METERED_STATUS = '1.3.6.1.4.1.318.1.1.26.9.4.3.1';

/** Models without a measurement answer -1. */
const notSupported = [-1];

/**
 * `apc_rpdu`: APC rack PDUs of the rPDU2 generation (Network Port Sharing chains included:
 * rows of every PDU of the chain). Power in hundredths of kW (× 10 → W) for the unit and its
 * phases, in W for outlets; energy in tenths of kWh (× 360 000 → J); current in tenths of A.
 */
export const apcRpduProfile = {
  description:
    'APC rPDU2 (PowerNet-MIB): PDU power and energy, phase current and power, outlet current, power and energy.',
  tables: [
    {
      name: 'rPDU2DeviceStatusTable',
      attributes: [
        { name: 'hw.id', index: 'pdu{0}' },
        { name: 'hw.type', value: 'pdu' },
        // rPDU2DeviceStatusName
        { name: 'hw.name', oid: `${DEVICE_STATUS}.3` },
      ],
      metrics: [
        // rPDU2DeviceStatusPower: hundredths of kW
        { name: 'hw.power', oid: `${DEVICE_STATUS}.5`, scale_factor: 10, ignore_values: notSupported },
        // rPDU2DeviceStatusEnergy: tenths of kWh
        { name: 'hw.energy', oid: `${DEVICE_STATUS}.9`, scale_factor: 360_000, ignore_values: notSupported },
      ],
    },
    {
      name: 'rPDU2PhaseStatusTable',
      attributes: [
        { name: 'hw.id', index: 'phase{0}' },
        { name: 'hw.type', value: 'pdu_phase' },
      ],
      metrics: [
        // rPDU2PhaseStatusCurrent: tenths of A
        {
          name: 'inframeter.snmp.current',
          oid: `${PHASE_STATUS}.5`,
          scale_factor: 0.1,
          ignore_values: notSupported,
        },
        // rPDU2PhaseStatusPower: hundredths of kW
        { name: 'hw.power', oid: `${PHASE_STATUS}.7`, scale_factor: 10, ignore_values: notSupported },
      ],
    },
    {
      name: 'rPDU2OutletMeteredStatusTable',
      attributes: [
        { name: 'hw.id', index: 'outlet{0}' },
        { name: 'hw.type', value: 'pdu_outlet' },
        // rPDU2OutletMeteredStatusName
        { name: 'hw.name', oid: `${OUTLET_METERED_STATUS}.3` },
      ],
      metrics: [
        // rPDU2OutletMeteredStatusCurrent: tenths of A
        {
          name: 'inframeter.snmp.current',
          oid: `${OUTLET_METERED_STATUS}.6`,
          scale_factor: 0.1,
          ignore_values: notSupported,
        },
        // rPDU2OutletMeteredStatusPower: W
        { name: 'hw.power', oid: `${OUTLET_METERED_STATUS}.7`, ignore_values: notSupported },
        // rPDU2OutletMeteredStatusEnergy: tenths of kWh
        {
          name: 'hw.energy',
          oid: `${OUTLET_METERED_STATUS}.11`,
          scale_factor: 360_000,
          ignore_values: notSupported,
        },
      ],
    },
  ],
} satisfies ProfileInput;
