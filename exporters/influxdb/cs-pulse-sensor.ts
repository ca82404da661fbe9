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
 * | `nodeInfo` | `vmHost` | `totalMem`, `freeMem` (MiB, integers) |
 * | `cpuTime` | `vmHost`, `vmId`, `vmUuid` | `cpuTime` (s, float), `cpus` |
 * | `rss` | same | `rss`, `mem`, `maxmem` (KiB) |
 * | `networkInterface` | same + `mac` | `readBytes`, `readPackets`, `readErrors`, `readDrops` (received), `writeBytes`, `writePackets`, `writeErrors`, `writeDrops` (transmitted) |
 * | `disk` | same + `disk` | `readIOPS`, `readBytes`, `writeIOPS`, `writeBytes` (requests, bytes), `totalSpace`, `allocatedSpace`, `onDiskSpace` (GiB, rounded down) |
 *
 * `vmHost` is the connection URI, `vmId` the domain name, `vmUuid` its UUID. Like
 * cs-pulse-sensor, only active domains are written (a shut-off domain has no lines).
 * What the libvirt receiver does not read is not written (see the README): `nodeInfo`'s
 * `kernel`, `idle`, `user`, `iowait`, and `disk`'s `ioErrors`; and since the receiver names
 * a disk by its target (`vda`), not its source file, the `disk` lines carry a `disk` tag in
 * place of cs-pulse-sensor's `image` and `pool`.
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
  ): boolean => {
    if (value === undefined) return false;
    let lines = map.get(key);
    if (lines === undefined) {
      lines = { tags: seriesKey(), time, fields: new Map(), points: 0 };
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
        if (name === 'inframeter.libvirt.host.memory') {
          const uri = a['libvirt.uri'];
          const state = a['libvirt.memory.state'];
          const field = state === 'total' ? 'totalMem' : state === 'free' ? 'freeMem' : undefined;
          const written =
            typeof uri === 'string' &&
            field !== undefined &&
            put(
              nodes,
              `${uri}\n${time}`,
              () => `nodeInfo,vmHost=${escapeKey(uri)}`,
              time,
              field,
              formatInteger(Math.floor(point.value / MIB)),
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

function diskTag(a: Attributes): string {
  const disk = a['libvirt.disk'];
  return typeof disk === 'string' && disk !== '' ? `,disk=${escapeKey(disk)}` : '';
}
