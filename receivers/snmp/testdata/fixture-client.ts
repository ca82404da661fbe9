import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SnmpClient, SnmpConnection, SnmpRequester, SnmpSession } from '../client.ts';
import { getScalars, walkColumns } from '../client.ts';
import { ERROR_STATUS, SnmpError } from '../errors.ts';
import { compareOids } from '../parse/oid.ts';
import type { RawVarbind } from '../parse/varbind.ts';
import { SNMP_TYPE } from '../parse/varbind.ts';

/**
 * Recorded varbinds (`fixtures/*.json`) and a client that serves them: an agent whose MIB is
 * the recorded list, answering GET, GETNEXT and GETBULK like snmpd does, so the client's
 * walk and get logic runs unchanged in unit tests.
 */

/** A varbind in a fixture file: byte strings as `{ "hex": "…" }`. */
export type FixtureValue = number | string | boolean | null | { hex: string };

/** A fixture file. */
export interface Fixture {
  readonly description: string;
  readonly varbinds: readonly { oid: string; type: number; value: FixtureValue }[];
}

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** A varbind as written to a fixture. */
export function toFixtureValue(value: unknown): FixtureValue {
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') };
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || value === null)
    return value;
  throw new Error(`cannot record a varbind value of type ${typeof value}`);
}

/** The varbinds of a fixture file, as net-snmp would hand them over. */
export function readFixture(name: string): RawVarbind[] {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Fixture;
  return fixture.varbinds.map(({ oid, type, value }) => ({
    oid,
    type,
    value: typeof value === 'object' && value !== null ? Buffer.from(value.hex, 'hex') : value,
  }));
}

/** Writes a fixture file, sorted by OID. */
export function writeFixture(name: string, description: string, varbinds: readonly RawVarbind[]): void {
  const unique = new Map(varbinds.map((v) => [v.oid, v]));
  const sorted = [...unique.values()].sort((a, b) => compareOids(a.oid, b.oid));
  const fixture: Fixture = {
    description,
    varbinds: sorted.map((v) => ({ oid: v.oid, type: v.type, value: toFixtureValue(v.value) })),
  };
  writeFileSync(join(FIXTURES, name), `${JSON.stringify(fixture, null, 1)}\n`);
}

/** An agent over a list of varbinds. */
export class FixtureAgent implements SnmpRequester {
  readonly version: SnmpRequester['version'];
  readonly #sorted: RawVarbind[];
  readonly #byOid: Map<string, RawVarbind>;
  /** Requests answered, by kind. */
  readonly requests = { get: 0, getNext: 0, getBulk: 0 };

  constructor(varbinds: readonly RawVarbind[], version: SnmpRequester['version'] = 'v2c') {
    this.version = version;
    this.#sorted = [...varbinds].sort((a, b) => compareOids(a.oid, b.oid));
    this.#byOid = new Map(varbinds.map((v) => [v.oid, v]));
  }

  #after(oid: string): number {
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (compareOids(this.#sorted[mid]?.oid ?? '', oid) <= 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  get(oids: readonly string[]): Promise<RawVarbind[]> {
    this.requests.get += 1;
    const out = oids.map((oid) => this.#byOid.get(oid) ?? { oid, type: SNMP_TYPE.NoSuchObject, value: null });
    const missing = out.find((v) => v.type === SNMP_TYPE.NoSuchObject);
    if (this.version === 'v1' && missing !== undefined)
      return Promise.reject(
        new SnmpError('agent_error', `agent error NoSuchName: ${missing.oid}`, { status: ERROR_STATUS.noSuchName }),
      );
    return Promise.resolve(out);
  }

  getNext(oids: readonly string[]): Promise<RawVarbind[]> {
    this.requests.getNext += 1;
    const out = oids.map((oid) => this.#sorted[this.#after(oid)]);
    if (out.some((v) => v === undefined)) {
      if (this.version === 'v1')
        return Promise.reject(new SnmpError('agent_error', 'agent error NoSuchName', { status: ERROR_STATUS.noSuchName }));
      return Promise.resolve(
        oids.map((oid, i) => out[i] ?? { oid, type: SNMP_TYPE.EndOfMibView, value: null }),
      );
    }
    return Promise.resolve(out as RawVarbind[]);
  }

  getBulk(oids: readonly string[], maxRepetitions: number): Promise<RawVarbind[][]> {
    this.requests.getBulk += 1;
    return Promise.resolve(
      oids.map((oid) => {
        const start = this.#after(oid);
        const rows = this.#sorted.slice(start, start + maxRepetitions);
        if (rows.length < maxRepetitions) rows.push({ oid, type: SNMP_TYPE.EndOfMibView, value: null });
        return rows;
      }),
    );
  }
}

/** What a fixture client serves for a connection: varbinds, or an error every request rejects with. */
export type FixtureSource = (connection: SnmpConnection) => readonly RawVarbind[] | Error;

/** A client whose sessions answer from fixtures; `source` is asked again for every request. */
export function createFixtureClient(source: FixtureSource): SnmpClient & {
  readonly opened: SnmpConnection[];
  readonly closed: number;
  /** One agent per get or walk, with the address it answered for. */
  readonly agents: { readonly address: string; readonly kind: 'get' | 'walk'; readonly agent: FixtureAgent }[];
} {
  const opened: SnmpConnection[] = [];
  const agents: { address: string; kind: 'get' | 'walk'; agent: FixtureAgent }[] = [];
  let closed = 0;
  return {
    opened,
    agents,
    get closed() {
      return closed;
    },
    open(connection): SnmpSession {
      opened.push(connection);
      const agentFor = (kind: 'get' | 'walk'): FixtureAgent => {
        const served = source(connection);
        if (served instanceof Error) throw served;
        const agent = new FixtureAgent(served, connection.auth.version);
        agents.push({ address: connection.address, kind, agent });
        return agent;
      };
      let open = true;
      return {
        get usable() {
          return open;
        },
        get: async (oids, signal) => getScalars(agentFor('get'), oids, signal),
        walk: async (columns, maxRepetitions, signal) =>
          walkColumns(agentFor('walk'), columns, maxRepetitions, signal),
        takeStrayErrors: () => [],
        close() {
          if (open) closed += 1;
          open = false;
        },
      };
    },
  };
}
