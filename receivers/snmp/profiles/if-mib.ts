import type { ProfileInput } from '../profile.ts';

/** IF-MIB (RFC 2863) ifTable, `ifEntry` columns. */
const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
/** IF-MIB (RFC 2863) ifXTable, `ifXEntry` columns. */
const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';

const receive = { 'network.io.direction': 'receive' };
const transmit = { 'network.io.direction': 'transmit' };

/**
 * `if_mib`: interface traffic, packets, errors, discards, link status and speed of any
 * device that implements IF-MIB (switches, routers, PDUs' management ports, hosts running
 * snmpd). One row per ifIndex; the 64-bit ifXTable counters are read, and the 32-bit ifTable
 * ones where a device has no ifXTable.
 */
export const ifMibProfile = {
  description: 'IF-MIB (RFC 2863): interface octets, unicast packets, errors, discards, status and speed.',
  tables: [
    {
      name: 'ifTable + ifXTable',
      attributes: [
        { name: 'hw.id', index: 'interface{0}' },
        { name: 'hw.type', value: 'network' },
        // ifDescr
        { name: 'hw.name', oid: `${IF_ENTRY}.2` },
        // ifName
        { name: 'network.interface.name', oid: `${IFX_ENTRY}.1` },
        // ifAlias
        { name: 'snmp.if.alias', oid: `${IFX_ENTRY}.18` },
      ],
      metrics: [
        // ifHCInOctets, fallback ifInOctets
        { name: 'hw.network.io', oid: `${IFX_ENTRY}.6`, fallback_oid: `${IF_ENTRY}.10`, attributes: receive },
        // ifHCOutOctets, fallback ifOutOctets
        {
          name: 'hw.network.io',
          oid: `${IFX_ENTRY}.10`,
          fallback_oid: `${IF_ENTRY}.16`,
          attributes: transmit,
        },
        // ifHCInUcastPkts, fallback ifInUcastPkts
        {
          name: 'hw.network.packets',
          oid: `${IFX_ENTRY}.7`,
          fallback_oid: `${IF_ENTRY}.11`,
          attributes: receive,
        },
        // ifHCOutUcastPkts, fallback ifOutUcastPkts
        {
          name: 'hw.network.packets',
          oid: `${IFX_ENTRY}.11`,
          fallback_oid: `${IF_ENTRY}.17`,
          attributes: transmit,
        },
        // ifInErrors, ifOutErrors
        { name: 'hw.errors', oid: `${IF_ENTRY}.14`, attributes: receive },
        { name: 'hw.errors', oid: `${IF_ENTRY}.20`, attributes: transmit },
        // ifInDiscards, ifOutDiscards
        { name: 'system.network.packet.dropped', oid: `${IF_ENTRY}.13`, attributes: receive },
        { name: 'system.network.packet.dropped', oid: `${IF_ENTRY}.19`, attributes: transmit },
        // ifOperStatus: up(1), down(2), testing(3), unknown(4), dormant(5), notPresent(6), lowerLayerDown(7)
        {
          name: 'hw.network.up',
          oid: `${IF_ENTRY}.8`,
          value_map: { '1': 1, '2': 0, '3': 0, '4': 0, '5': 0, '6': 0, '7': 0 },
        },
        // ifHighSpeed (Mb/s → By/s: × 10^6 / 8), fallback ifSpeed (b/s → By/s: / 8)
        {
          name: 'hw.network.bandwidth.limit',
          oid: `${IFX_ENTRY}.15`,
          scale_factor: 125_000,
          fallback_oid: `${IF_ENTRY}.5`,
          fallback_scale_factor: 0.125,
        },
      ],
    },
  ],
} satisfies ProfileInput;
