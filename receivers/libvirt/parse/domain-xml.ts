/** What the receiver needs from a domain's XML description. */
export interface DomainDescription {
  readonly disks: readonly string[];
  readonly interfaces: readonly { target: string; mac: string | undefined }[];
  /** CloudStack's or OpenStack's instance name, when the metadata has one. */
  readonly cloudstackInstance: string | undefined;
  readonly openstackInstance: string | undefined;
}

const attr = (tag: string, name: string): string | undefined =>
  new RegExp(`\\b${name}=['"]([^'"]*)['"]`).exec(tag)?.[1];

/** Reads disks, interfaces (target and MAC) and cloud instance names from `virDomainGetXMLDesc`. */
export function parseDomainXml(xml: string): DomainDescription {
  const disks: string[] = [];
  for (const block of xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    const target = /<target\b[^>]*>/.exec(block[0]);
    const dev = target === null ? undefined : attr(target[0], 'dev');
    if (dev !== undefined && /\bdevice=['"](disk|lun)['"]/.test(block[0])) disks.push(dev);
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
  return { disks, interfaces, cloudstackInstance: cloudstack, openstackInstance: openstack };
}
