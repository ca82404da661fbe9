import { describe, expect, it } from 'vitest';
import type { SnmpRequester } from './client.ts';
import { getScalars, walkColumns } from './client.ts';
import { ERROR_STATUS, SnmpError } from './errors.ts';
import type { RawVarbind } from './parse/varbind.ts';
import { SNMP_TYPE } from './parse/varbind.ts';
import { FixtureAgent, readFixture } from './testdata/fixture-client.ts';
import { LAB_FIXED, LAB_MISSING, SYS_NAME } from './testdata/lab.ts';

const lab = readFixture('snmpd-lab-1.json');
const IF_DESCR = '1.3.6.1.2.1.2.2.1.2';
const IF_OPER_STATUS = '1.3.6.1.2.1.2.2.1.8';
const IF_NAME = '1.3.6.1.2.1.31.1.1.1.1';

function oids(varbinds: readonly RawVarbind[]): string[] {
  return varbinds.map((v) => v.oid);
}

describe('walkColumns', () => {
  it('walks each column to its end and no further, several columns per GETBULK', async () => {
    const agent = new FixtureAgent(lab);
    const walked = await walkColumns(agent, [IF_DESCR, IF_NAME, IF_OPER_STATUS], 3);
    expect(oids(walked).filter((oid) => oid.startsWith(`${IF_DESCR}.`))).toEqual(
      ['1', '2', '3', '4'].map((i) => `${IF_DESCR}.${i}`),
    );
    expect(walked).toHaveLength(12);
    expect(
      walked.every((v) => [IF_DESCR, IF_NAME, IF_OPER_STATUS].some((c) => v.oid.startsWith(`${c}.`))),
    ).toBe(true);
    // 4 rows at 3 repetitions: 2 requests for the three columns together.
    expect(agent.requests.getBulk).toBe(2);
  });

  it('stops at the end of the MIB view and walks an absent column to nothing', async () => {
    const agent = new FixtureAgent(lab);
    expect(await walkColumns(agent, ['1.3.6.1.4.1.99999.9'], 10)).toEqual([]);
    expect(await walkColumns(agent, ['1.3.6.1.2.1.99'], 10)).toHaveLength(0);
    expect(agent.requests.getBulk).toBe(2);
  });

  it('walks with GETNEXT over SNMPv1, one column at a time', async () => {
    const agent = new FixtureAgent(lab, 'v1');
    const walked = await walkColumns(agent, [IF_DESCR, '1.3.6.1.4.1.99999.2'], 10);
    expect(oids(walked)).toEqual([...['1', '2', '3', '4'].map((i) => `${IF_DESCR}.${i}`), LAB_FIXED]);
    expect(agent.requests).toMatchObject({ getBulk: 0, getNext: 4 + 1 + 1 + 1 });
  });

  it('asks for fewer repetitions when the agent answers tooBig', async () => {
    const agent = new FixtureAgent(lab);
    const asked: number[] = [];
    const picky: SnmpRequester = {
      version: 'v2c',
      get: (o) => agent.get(o),
      getNext: (o) => agent.getNext(o),
      getBulk: (o, repetitions) => {
        asked.push(repetitions);
        if (repetitions > 2)
          return Promise.reject(new SnmpError('agent_error', 'tooBig', { status: ERROR_STATUS.tooBig }));
        return agent.getBulk(o, repetitions);
      },
    };
    expect(await walkColumns(picky, [IF_DESCR], 10)).toHaveLength(4);
    expect(asked).toEqual([10, 5, 2, 2, 2]);
  });

  it('refuses an agent whose OIDs do not increase', async () => {
    const looping: SnmpRequester = {
      version: 'v2c',
      get: () => Promise.resolve([]),
      getNext: () => Promise.resolve([]),
      getBulk: () =>
        Promise.resolve([
          [
            { oid: `${IF_DESCR}.2`, type: SNMP_TYPE.OctetString, value: Buffer.from('a') },
            { oid: `${IF_DESCR}.1`, type: SNMP_TYPE.OctetString, value: Buffer.from('b') },
          ],
        ]),
    };
    await expect(walkColumns(looping, [IF_DESCR], 10)).rejects.toThrow(
      `agent answered ${IF_DESCR}.1 after ${IF_DESCR}.2: OIDs must increase`,
    );
  });

  it('stops when the scrape is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('scrape timed out'));
    await expect(walkColumns(new FixtureAgent(lab), [IF_DESCR], 10, controller.signal)).rejects.toThrow(
      'scrape timed out',
    );
  });
});

describe('getScalars', () => {
  it('returns noSuchObject in place of a missing instance (SNMPv2c)', async () => {
    const agent = new FixtureAgent(lab);
    const got = await getScalars(agent, [SYS_NAME, LAB_MISSING, LAB_FIXED]);
    expect(got.map((v) => v.type)).toEqual([
      SNMP_TYPE.OctetString,
      SNMP_TYPE.NoSuchObject,
      SNMP_TYPE.Integer,
    ]);
    expect(agent.requests.get).toBe(1);
  });

  it('asks one by one when an SNMPv1 agent answers noSuchName', async () => {
    const agent = new FixtureAgent(lab, 'v1');
    const got = await getScalars(agent, [SYS_NAME, LAB_MISSING, LAB_FIXED]);
    expect(got.map((v) => [v.oid, v.type])).toEqual([
      [SYS_NAME, SNMP_TYPE.OctetString],
      [LAB_MISSING, SNMP_TYPE.NoSuchObject],
      [LAB_FIXED, SNMP_TYPE.Integer],
    ]);
    expect(agent.requests.get).toBe(4);
  });

  it('splits long lists into requests of 32', async () => {
    const agent = new FixtureAgent(lab);
    const many = Array.from({ length: 70 }, (_, i) => `1.3.6.1.4.1.99999.8.${i}.0`);
    expect(await getScalars(agent, many)).toHaveLength(70);
    expect(agent.requests.get).toBe(3);
  });

  it('halves a request the agent finds tooBig', async () => {
    const agent = new FixtureAgent(lab);
    const sizes: number[] = [];
    const picky: SnmpRequester = {
      version: 'v2c',
      get: (o) => {
        sizes.push(o.length);
        return o.length > 8
          ? Promise.reject(new SnmpError('agent_error', 'tooBig', { status: ERROR_STATUS.tooBig }))
          : agent.get(o);
      },
      getNext: (o) => agent.getNext(o),
      getBulk: (o, r) => agent.getBulk(o, r),
    };
    const list = Array.from({ length: 20 }, (_, i) => `1.3.6.1.4.1.99999.8.${i}.0`);
    expect(await getScalars(picky, list)).toHaveLength(20);
    expect(sizes).toEqual([20, 10, 5, 5, 10, 5, 5]);
  });
});
