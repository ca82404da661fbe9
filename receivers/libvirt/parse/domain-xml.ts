/** What the receiver needs from a domain's XML description. */
export interface DomainDescription {
  readonly disks: readonly string[];
  /**
   * Disk target → where the disk lives, from its `<source>`: a file's or block device's
   * path, a network disk's name (RBD: `pool/image`), a storage volume as `pool/volume`.
   */
  readonly diskSources: ReadonlyMap<string, string>;
  readonly interfaces: readonly { target: string; mac: string | undefined }[];
  /** CloudStack's or OpenStack's instance name, when the metadata has one. */
  readonly cloudstackInstance: string | undefined;
  readonly openstackInstance: string | undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

const attr = (tag: string, name: string): string | undefined => {
  const value = new RegExp(`\\b${name}=['"]([^'"]*)['"]`).exec(tag)?.[1];
  return value?.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e] ?? '');
};

/** A disk's source (see `DomainDescription.diskSources`), from its first `<source>` (not its backing store's). */
function diskSource(disk: string): string | undefined {
  const source = /<source\b[^>]*>/.exec(disk)?.[0];
  if (source === undefined) return undefined;
  const pool = attr(source, 'pool');
  const volume = attr(source, 'volume');
  if (pool !== undefined && volume !== undefined) return `${pool}/${volume}`;
  const path = attr(source, 'file') ?? attr(source, 'dev') ?? attr(source, 'name') ?? attr(source, 'dir');
  return path === '' ? undefined : path;
}

/** Reads disks, interfaces (target and MAC) and cloud instance names from `virDomainGetXMLDesc`. */
export function parseDomainXml(xml: string): DomainDescription {
  const disks: string[] = [];
  const diskSources = new Map<string, string>();
  for (const block of xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    const target = /<target\b[^>]*>/.exec(block[0]);
    const dev = target === null ? undefined : attr(target[0], 'dev');
    if (dev !== undefined && /\bdevice=['"](disk|lun)['"]/.test(block[0])) {
      disks.push(dev);
      const source = diskSource(block[0]);
      if (source !== undefined) diskSources.set(dev, source);
    }
  }
  const interfaces: { target: string; mac: string | undefined }[] = [];
  for (const block of xml.matchAll(/<interface\b[\s\S]*?<\/interface>/g)) {
    const target = /<target\b[^>]*>/.exec(block[0]);
    const mac = /<mac\b[^>]*>/.exec(block[0]);
    const dev = target === null ? undefined : attr(target[0], 'dev');
    if (dev !== undefined)
      interfaces.push({ target: dev, mac: mac === null ? undefined : attr(mac[0], 'address') });
  }
  // OpenStack Nova: <nova:instance><nova:name>…</nova:name>; CloudStack: <instanceName> or the domain name i-N-M-VM.
  const openstack = /<nova:name>([^<]*)<\/nova:name>/.exec(xml)?.[1];
  const cloudstackMeta = /<(?:cloudstack:)?instanceName>([^<]*)<\//.exec(xml)?.[1];
  const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1];
  const cloudstack = cloudstackMeta ?? (name !== undefined && /^i-\d+-\d+-VM$/.test(name) ? name : undefined);
  return { disks, diskSources, interfaces, cloudstackInstance: cloudstack, openstackInstance: openstack };
}
