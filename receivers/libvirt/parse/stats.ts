/** The host's figures through libvirt. */
export interface HostStats {
  /** Bytes. */
  readonly memoryTotal: number | undefined;
  readonly memoryFree: number | undefined;
  readonly cpus: number | undefined;
  /** Nanoseconds summed over the host's CPUs, by libvirt's name (`kernel`, `user`, `idle`, `iowait`, `intr`). */
  readonly cpuTimes?: Readonly<Record<string, number>> | undefined;
}

/** One domain's figures, from bulk stats or per-domain calls. Counters in libvirt's units. */
export interface DomainStats {
  name: string;
  uuid: string;
  state: number | undefined;
  /** Nanoseconds. */
  cpuTime: number | undefined;
  cpuUser: number | undefined;
  cpuSystem: number | undefined;
  vcpuCount: number | undefined;
  /** Nanoseconds per vCPU. */
  vcpuTimes: Map<number, number>;
  /** KiB, by libvirt balloon name: current, maximum, rss, available, usable, unused, swap_in, swap_out, major_fault, minor_fault. */
  balloon: Map<string, number>;
  blocks: Map<string, Map<string, number>>;
  nets: Map<string, Map<string, number>>;
  macs: Map<string, string>;
  /** Disk target → its source, from the domain XML (see `DomainDescription.diskSources`). */
  diskSources: Map<string, string>;
  cloudstackInstance: string | undefined;
  openstackInstance: string | undefined;
}

export function emptyStats(name: string, uuid: string): DomainStats {
  return {
    name,
    uuid,
    state: undefined,
    cpuTime: undefined,
    cpuUser: undefined,
    cpuSystem: undefined,
    vcpuCount: undefined,
    vcpuTimes: new Map(),
    balloon: new Map(),
    blocks: new Map(),
    nets: new Map(),
    macs: new Map(),
    diskSources: new Map(),
    cloudstackInstance: undefined,
    openstackInstance: undefined,
  };
}

/**
 * Folds `virConnectGetAllDomainStats` typed parameters (`state.state`, `cpu.time`,
 * `balloon.rss`, `vcpu.0.time`, `block.0.name`, `block.0.rd.bytes`, `net.1.rx.bytes`, …)
 * into a {@link DomainStats}.
 */
export function applyBulkParams(stats: DomainStats, params: ReadonlyMap<string, number | string>): void {
  const num = (key: string): number | undefined => {
    const v = params.get(key);
    return typeof v === 'number' ? v : undefined;
  };
  stats.state = num('state.state') ?? stats.state;
  stats.cpuTime = num('cpu.time') ?? stats.cpuTime;
  stats.cpuUser = num('cpu.user') ?? stats.cpuUser;
  stats.cpuSystem = num('cpu.system') ?? stats.cpuSystem;
  stats.vcpuCount = num('vcpu.current') ?? stats.vcpuCount;
  const blockNames = new Map<string, string>();
  const netNames = new Map<string, string>();
  for (const [key, value] of params) {
    let m = /^vcpu\.(\d+)\.time$/.exec(key);
    if (m !== null && typeof value === 'number') stats.vcpuTimes.set(Number(m[1]), value);
    m = /^balloon\.([a-z_]+)$/.exec(key);
    if (m !== null && typeof value === 'number') stats.balloon.set(m[1] ?? '', value);
    m = /^block\.(\d+)\.name$/.exec(key);
    if (m !== null && typeof value === 'string') blockNames.set(m[1] ?? '', value);
    m = /^net\.(\d+)\.name$/.exec(key);
    if (m !== null && typeof value === 'string') netNames.set(m[1] ?? '', value);
  }
  for (const [key, value] of params) {
    if (typeof value !== 'number') continue;
    let m = /^block\.(\d+)\.([a-z_.]+)$/.exec(key);
    if (m !== null && m[2] !== 'name' && m[2] !== 'path' && m[2] !== 'backingIndex') {
      const name = blockNames.get(m[1] ?? '');
      if (name !== undefined) {
        const fields = stats.blocks.get(name) ?? new Map<string, number>();
        fields.set(m[2] ?? '', value);
        stats.blocks.set(name, fields);
      }
    }
    m = /^net\.(\d+)\.([a-z_.]+)$/.exec(key);
    if (m !== null && m[2] !== 'name') {
      const name = netNames.get(m[1] ?? '');
      if (name !== undefined) {
        const fields = stats.nets.get(name) ?? new Map<string, number>();
        fields.set(m[2] ?? '', value);
        stats.nets.set(name, fields);
      }
    }
  }
}
