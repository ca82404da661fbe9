import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Precision } from './config.ts';
import type { LineBatch } from './line-protocol.ts';
import { escapeKey, formatFloat, formatInteger, formatTimestamp } from './line-protocol.ts';

/**
 * The `cs_pulse_sensor` schema: the libvirt receiver's metrics written as cs-pulse-sensor
 * (a CloudStack KVM sensor, python 2 + libvirt) writes them, so that its InfluxDB queries
 * and Grafana dashboards keep working. Measurements, tags, fields, units and field types
 * (integers with `i`, `cpuTime` a float) are its own:
 *
 * | measurement | tags | fields (from the libvirt receiver) |
 * |---|---|---|
 * | `nodeInfo` | `vmHost` | `totalMem`, `freeMem` (MiB), `kernel`, `user`, `idle`, `iowait` (s, rounded down) |
 * | `cpuTime` | `vmHost`, `vmId`, `vmUuid` | `cpuTime` (s, float), `cpus` |
 * | `rss` | same | `rss`, `mem`, `maxmem` (KiB) |
 * | `networkInterface` | same + `mac` | `readBytes`, `readPackets`, `readErrors`, `readDrops` (received), `writeBytes`, `writePackets`, `writeErrors`, `writeDrops` (transmitted) |
 * | `disk` | same + `image`, `pool` | `readIOPS`, `readBytes`, `writeIOPS`, `writeBytes` (requests, bytes), `ioErrors` (-1 when the driver does not count them), `totalSpace`, `allocatedSpace`, `onDiskSpace` (GiB, rounded down) |
 *
 * `vmHost` is the connection URI, `vmId` the domain name, `vmUuid` its UUID; `image` and
 * `pool` the last and the next-to-last part of the disk's source (`/mnt/POOL/IMAGE`, RBD
 * `POOL/IMAGE`). Like cs-pulse-sensor, only active domains are written (a shut-off domain
 * has no lines).
 */

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Domain states in which libvirt lists a domain as active (virConnectListDomains). */
const INACTIVE = new Set(['shutoff', 'crashed']);

interface Lines {
  readonly tags: string;
  readonly time: string;
  readonly fields: Map<string, string>;
  points: number;
  /** Fields written with this value when no point gave them (cs-pulse-sensor's `ioErrors` -1). */
  readonly defaults: Readonly<Record<string, string>> | undefined;
}

interface Vm {
  active: boolean;
  readonly measurements: Map<string, Lines>;
}

type Field = [measurement: string, field: string, extraTag: string, value: string | undefined];

/** Writes the libvirt receiver's metrics of a batch in cs-pulse-sensor's measurements into `out`. */
export function writeCsPulseSensorSchema(batch: ResourceMetrics, precision: Precision, out: LineBatch): void {
  const vms = new Map<string, Vm>();
  const nodes = new Map<string, Lines>();

  const vmOf = (a: Attributes, time: string): Vm | undefined => {
    const uri = a['libvirt.uri'];
    const name = a['libvirt.domain.name'];
    const uuid = a['libvirt.domain.uuid'];
    if (typeof uri !== 'string' || typeof name !== 'string' || typeof uuid !== 'string') return undefined;
    const key = `${uri}\n${uuid}\n${time}`;
    let vm = vms.get(key);
    if (vm === undefined) {
      vm = { active: true, measurements: new Map() };
      vms.set(key, vm);
    }
    return vm;
  };
  const tagsOf = (a: Attributes): string =>
    `,vmHost=${escapeKey(String(a['libvirt.uri']))},vmId=${escapeKey(String(a['libvirt.domain.name']))},vmUuid=${escapeKey(String(a['libvirt.domain.uuid']))}`;
  const put = (
    map: Map<string, Lines>,
    key: string,
    seriesKey: () => string,
    time: string,
    field: string,
    value: string | undefined,
    defaults?: Readonly<Record<string, string>>,
  ): boolean => {
    if (value === undefined) return false;
    let lines = map.get(key);
    if (lines === undefined) {
      lines = { tags: seriesKey(), time, fields: new Map(), points: 0, defaults };
      map.set(key, lines);
    }
    lines.fields.set(field, value);
    lines.points += 1;
    return true;
  };

  for (const scope of batch.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name;
      for (const point of metric.dataPoints as DataPoint<number>[]) {
        const a = point.attributes;
        const time = formatTimestamp(point.endTime, precision);
        if (name === 'inframeter.libvirt.host.memory' || name === 'inframeter.libvirt.host.cpu.time') {
          const uri = a['libvirt.uri'];
          const field = nodeFieldOf(name, a, point.value);
          const written =
            typeof uri === 'string' &&
            field !== undefined &&
            put(
              nodes,
              `${uri}\n${time}`,
              () => `nodeInfo,vmHost=${escapeKey(uri)}`,
              time,
              field[0],
              field[1],
            );
          if (!written) out.skip('not_in_schema');
          continue;
        }
        if (!name.startsWith('inframeter.libvirt.domain.')) {
          out.skip('not_in_schema');
          continue;
        }
        const vm = vmOf(a, time);
        if (vm === undefined) {
          out.skip('not_in_schema');
          continue;
        }
        if (name === 'inframeter.libvirt.domain.state') {
          if (point.value === 1 && INACTIVE.has(String(a['libvirt.domain.state']))) vm.active = false;
          out.skip('not_in_schema');
          continue;
        }
        const field = fieldOf(name, a, point.value);
        if (field === undefined) {
          out.skip('not_in_schema');
          continue;
        }
        const [measurement, key, extraTag, value] = field;
        const written = put(
          vm.measurements,
          `${measurement}${extraTag}`,
          () => `${measurement}${tagsOf(a)}${extraTag}`,
          time,
          key,
          value,
          measurement === 'disk' ? DISK_DEFAULTS : undefined,
        );
        if (!written) out.skip('not_a_number');
      }
    }
  }

  for (const lines of nodes.values()) emit(lines, out);
  for (const vm of vms.values()) {
    for (const lines of vm.measurements.values()) {
      if (vm.active) emit(lines, out);
      else out.skip('domain_inactive', lines.points);
    }
  }
}

function emit(lines: Lines, out: LineBatch): void {
  let fields = '';
  for (const [key, value] of lines.fields) fields += `${fields === '' ? '' : ','}${key}=${value}`;
  for (const [key, value] of Object.entries(lines.defaults ?? {}))
    if (!lines.fields.has(key)) fields += `,${key}=${value}`;
  out.add(lines.tags, fields, lines.time, lines.points);
}

const NET: Record<string, string> = {
  'inframeter.libvirt.domain.network.io': 'Bytes',
  'inframeter.libvirt.domain.network.packets': 'Packets',
  'inframeter.libvirt.domain.network.errors': 'Errors',
  'inframeter.libvirt.domain.network.dropped': 'Drops',
};

const DISK_SIZE: Record<string, string> = {
  capacity: 'totalSpace',
  allocation: 'allocatedSpace',
  physical: 'onDiskSpace',
};

const RSS: Record<string, string> = { rss: 'rss', current: 'mem', maximum: 'maxmem' };

/** The host CPU modes cs-pulse-sensor writes, by the receiver's `cpu.mode`. */
const NODE_CPU: Record<string, string> = { kernel: 'kernel', user: 'user', idle: 'idle', iowait: 'iowait' };

/**
 * cs-pulse-sensor writes virDomainBlockStats' `errs` as it is: -1 where the driver does not
 * count errors (QEMU), where the receiver has no `disk.errors` point.
 */
const DISK_DEFAULTS: Readonly<Record<string, string>> = { ioErrors: '-1i' };

/** The `nodeInfo` field and value a host point becomes, if any. */
function nodeFieldOf(name: string, a: Attributes, value: number): [string, string | undefined] | undefined {
  if (name === 'inframeter.libvirt.host.cpu.time') {
    const field = NODE_CPU[String(a['cpu.mode'])];
    return field === undefined ? undefined : [field, formatInteger(Math.floor(value))];
  }
  const state = a['libvirt.memory.state'];
  const field = state === 'total' ? 'totalMem' : state === 'free' ? 'freeMem' : undefined;
  return field === undefined ? undefined : [field, formatInteger(Math.floor(value / MIB))];
}

/** The measurement, field, extra tags and value a libvirt domain point becomes, if any. */
function fieldOf(name: string, a: Attributes, value: number): Field | undefined {
  switch (name) {
    case 'inframeter.libvirt.domain.cpu.time':
      return a['cpu.mode'] === 'total' ? ['cpuTime', 'cpuTime', '', formatFloat(value)] : undefined;
    case 'inframeter.libvirt.domain.vcpu.count':
      return ['cpuTime', 'cpus', '', formatInteger(value)];
    case 'inframeter.libvirt.domain.memory.usage': {
      const field = RSS[String(a['libvirt.memory.state'])];
      return field === undefined ? undefined : ['rss', field, '', formatInteger(Math.floor(value / 1024))];
    }
    case 'inframeter.libvirt.domain.disk.io':
    case 'inframeter.libvirt.domain.disk.operations': {
      const direction = a['disk.io.direction'];
      if (direction !== 'read' && direction !== 'write') return undefined;
      const what = name.endsWith('.io') ? 'Bytes' : 'IOPS';
      return ['disk', `${direction}${what}`, diskTag(a), formatInteger(value)];
    }
    case 'inframeter.libvirt.domain.disk.errors':
      return ['disk', 'ioErrors', diskTag(a), formatInteger(value)];
    case 'inframeter.libvirt.domain.disk.size': {
      const field = DISK_SIZE[String(a['libvirt.disk.size.kind'])];
      return field === undefined
        ? undefined
        : ['disk', field, diskTag(a), formatInteger(Math.floor(value / GIB))];
    }
    default: {
      const what = NET[name];
      const direction = a['network.io.direction'];
      if (what === undefined || (direction !== 'receive' && direction !== 'transmit')) return undefined;
      // cs-pulse-sensor keys interfaces by MAC address; one without a MAC has no line.
      const mac = a['libvirt.mac'];
      if (typeof mac !== 'string' || mac === '') return undefined;
      const prefix = direction === 'receive' ? 'read' : 'write';
      return ['networkInterface', `${prefix}${what}`, `,mac=${escapeKey(mac)}`, formatInteger(value)];
    }
  }
}

/**
 * cs-pulse-sensor's `image` and `pool` tags: the last and the next-to-last part of the
 * disk's source (`/mnt/POOL/IMAGE` on CloudStack's NFS primary storage, `POOL/IMAGE` on
 * RBD). A disk whose domain XML gives no source is tagged by its target (`disk=vda`).
 */
function diskTag(a: Attributes): string {
  const source = a['libvirt.disk.source'];
  if (typeof source === 'string' && source !== '') {
    const parts = source.split('/');
    const image = parts.at(-1) ?? '';
    const pool = parts.at(-2) ?? '';
    return `${image === '' ? '' : `,image=${escapeKey(image)}`}${pool === '' ? '' : `,pool=${escapeKey(pool)}`}`;
  }
  const disk = a['libvirt.disk'];
  return typeof disk === 'string' && disk !== '' ? `,disk=${escapeKey(disk)}` : '';
}
