import type { ProfileInput } from '../profile.ts';

// Raritan PDU2-MIB (PX2, PX3; enterprise 13742.6). Sensor values are indexed
// pduId.outletId.sensorType (or pduId.inletId.sensorType), where sensorType follows
// SensorTypeEnumeration: rmsCurrent(1), rmsVoltage(4), activePower(5), activeEnergy(8).

/** PDU2-MIB measurementsOutletSensorValue (Unsigned32), index pduId.outletId.sensorType. */
const OUTLET_SENSOR_VALUE = '1.3.6.1.4.1.13742.6.5.4.3.1.4';
/** PDU2-MIB outletSensorDecimalDigits, index pduId.outletId.sensorType. */
const OUTLET_SENSOR_DECIMAL_DIGITS = '1.3.6.1.4.1.13742.6.3.5.4.1.7';
/** PDU2-MIB outletName (DisplayString set by the user), index pduId.outletId. */
const OUTLET_NAME = '1.3.6.1.4.1.13742.6.3.5.3.1.3';
/** PDU2-MIB measurementsInletSensorValue, index pduId.inletId.sensorType. */
const INLET_SENSOR_VALUE = '1.3.6.1.4.1.13742.6.5.2.3.1.4';
/** PDU2-MIB inletSensorDecimalDigits, index pduId.inletId.sensorType. */
const INLET_SENSOR_DECIMAL_DIGITS = '1.3.6.1.4.1.13742.6.3.3.4.1.7';
/** PDU2-MIB inletName, index pduId.inletId. */
const INLET_NAME = '1.3.6.1.4.1.13742.6.3.3.3.1.3';

/** activePower(5) in W, activeEnergy(8) in Wh (× 3600 → J), rmsCurrent(1) in A. */
function sensorMetrics(
  value: string,
  digits: string,
): NonNullable<ProfileInput['tables']>[number]['metrics'] {
  return [
    { name: 'hw.power', oid: value, index_suffix: '5', decimal_digits_oid: digits },
    { name: 'hw.energy', oid: value, index_suffix: '8', decimal_digits_oid: digits, scale_factor: 3600 },
    { name: 'inframeter.snmp.current', oid: value, index_suffix: '1', decimal_digits_oid: digits },
  ];
}

/**
 * `raritan_px`: outlet and inlet power, energy and current of Raritan PX2/PX3 PDUs. Values
 * are divided by 10^decimalDigits read from the sensor's own …SensorDecimalDigits column, so
 * models and firmware with different resolutions need no per-model scale.
 */
export const raritanPxProfile = {
  description: 'Raritan PX2/PX3 (PDU2-MIB): outlet and inlet active power, active energy and RMS current.',
  tables: [
    {
      name: 'outletSensorMeasurementsTable',
      attributes: [
        { name: 'hw.id', index: 'pdu{1}.outlet{2}' },
        { name: 'hw.type', value: 'pdu_outlet' },
        { name: 'hw.name', oid: OUTLET_NAME },
        { name: 'hw.parent', index: 'pdu{1}' },
      ],
      metrics: sensorMetrics(OUTLET_SENSOR_VALUE, OUTLET_SENSOR_DECIMAL_DIGITS),
    },
    {
      name: 'inletSensorMeasurementsTable',
      attributes: [
        { name: 'hw.id', index: 'pdu{1}.inlet{2}' },
        { name: 'hw.type', value: 'pdu_inlet' },
        { name: 'hw.name', oid: INLET_NAME },
        { name: 'hw.parent', index: 'pdu{1}' },
      ],
      metrics: sensorMetrics(INLET_SENSOR_VALUE, INLET_SENSOR_DECIMAL_DIGITS),
    },
  ],
} satisfies ProfileInput;
