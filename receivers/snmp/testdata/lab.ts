/**
 * The receiver configuration the tests, the recorder and the benchmark poll the lab snmpd
 * with: the built-in if_mib profile plus a `lab` profile of the scalars snmpd.conf and pass.sh
 * serve (fixed values, a value read from a file, a Counter64, and an OID that does not exist).
 */

/** SNMPv2-MIB sysName.0. */
export const SYS_NAME = '1.3.6.1.2.1.1.5.0';
/** `override .1.3.6.1.4.1.99999.2.1.0 integer 4321` in snmpd.conf. */
export const LAB_FIXED = '1.3.6.1.4.1.99999.2.1.0';
/** pass.sh: an integer read from the file pdu_power (1234 while it is absent). */
export const LAB_POWER = '1.3.6.1.4.1.99999.1.1.0';
/** pass.sh: a Counter64, 9876543210123. */
export const LAB_ENERGY = '1.3.6.1.4.1.99999.1.3.0';
/** Nothing answers here: noSuchObject. */
export const LAB_MISSING = '1.3.6.1.4.1.99999.9.9.0';

/** The `lab` profile. */
export const labProfile = {
  description: 'The scalars of the lab snmpd.',
  scalars: {
    attributes: [{ name: 'lab.sys_name', oid: SYS_NAME }],
    metrics: [
      { name: 'lab.fixed', oid: LAB_FIXED, instrument: 'gauge', unit: '1' },
      { name: 'hw.power', oid: LAB_POWER, attributes: { 'hw.id': 'outlet1', 'hw.type': 'pdu_outlet' } },
      { name: 'hw.energy', oid: LAB_ENERGY, attributes: { 'hw.id': 'outlet1', 'hw.type': 'pdu_outlet' } },
      { name: 'lab.missing', oid: LAB_MISSING, instrument: 'gauge' },
    ],
  },
};

/** Credentials of the lab snmpd: v2c `public`, and the v3 user `labuser` (SHA, AES). */
export const labAuth = {
  lab_v2c: { version: 'v2c', community: 'public' },
  lab_v3: {
    version: 'v3',
    user: 'labuser',
    security_level: 'auth_priv',
    auth_protocol: 'sha',
    auth_password: 'labauthpass',
    priv_protocol: 'aes',
    priv_password: 'labprivpass',
  },
};

/** A receiver config polling the lab snmpd at `port` with the given targets' overrides. */
export function labConfig(port: number, targets: Record<string, unknown>[] = [{}]): Record<string, unknown> {
  return {
    collection_interval: '10s',
    auth: labAuth,
    profiles: { lab: labProfile },
    targets: targets.map((target, i) => ({
      name: `lab${i === 0 ? '' : String(i)}`,
      address: '127.0.0.1',
      port,
      auth: 'lab_v2c',
      profiles: ['if_mib', 'lab'],
      timeout: '1s',
      retries: 0,
      ...target,
    })),
  };
}
