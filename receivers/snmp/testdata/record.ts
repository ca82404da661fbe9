/**
 * Records the fixtures from a real snmpd: `node receivers/snmp/testdata/record.ts`.
 * For each fixture, starts Debian's snmpd with the lab configuration (plus a PDU's MIB served
 * through `override` lines), reads everything a receiver config asks for (GET of the scalars,
 * walks of every column, fallback columns included) with the receiver's own client, and
 * writes the varbinds to fixtures/<name>.json.
 */
import { writeFileSync } from 'node:fs';
import { createNetSnmpClient } from '../client.ts';
import { configSchema } from '../config.ts';
import { planPoll } from '../parse/plan.ts';
import { SNMP_TYPE } from '../parse/varbind.ts';
import { writeFixture } from './fixture-client.ts';
import { labConfig } from './lab.ts';
import type { RunningSnmpd } from './snmpd.ts';
import { pduConfig, startSnmpd } from './snmpd.ts';

async function record(snmpd: RunningSnmpd, profiles: string[], name: string, what: string): Promise<void> {
  const config = configSchema.parse(labConfig(snmpd.port, [{ profiles }]));
  const target = config.targets[0];
  if (target === undefined) throw new Error('no target');
  const resolved = target.profiles.map((p) => p.profile);
  const plan = planPoll(resolved);
  const fallbacks = resolved.flatMap((p) =>
    p.tables.flatMap((t) => t.metrics.flatMap((m) => (m.fallback_oid === undefined ? [] : [m.fallback_oid]))),
  );
  const session = createNetSnmpClient().open({ ...target, timeout: 2000, retries: 1 });
  try {
    const got = await session.get(plan.scalars);
    const walked = await session.walk([...plan.columns, ...fallbacks], 20);
    const description = `${what}: recorded ${new Date().toISOString().slice(0, 10)} by testdata/record.ts from Debian 12 snmpd 5.9.3 on 127.0.0.1 (profiles ${profiles.join(', ')})`;
    writeFixture(name, description, [...got.filter((v) => v.type < SNMP_TYPE.NoSuchObject), ...walked]);
    console.log(`${name}: ${got.length + walked.length} varbinds`);
  } finally {
    session.close();
  }
}

const lab = await startSnmpd();
try {
  await record(lab, ['if_mib', 'lab'], 'snmpd-lab-1.json', 'The lab snmpd, first poll');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  writeFileSync(lab.pduPowerFile, '1500\n');
  await record(lab, ['if_mib', 'lab'], 'snmpd-lab-2.json', 'The lab snmpd, 3 s later, pdu_power set to 1500');
} finally {
  await lab.stop();
}
for (const [pdu, profile] of [
  ['apc-rpdu', 'apc_rpdu'],
  ['raritan-px', 'raritan_px'],
] as const) {
  const snmpd = await startSnmpd({ extraConfig: pduConfig(pdu) });
  try {
    await record(snmpd, [profile], `snmpd-${pdu}.json`, `snmpd serving snmpd/${pdu}.conf`);
  } finally {
    await snmpd.stop();
  }
}
