/** DEVNAME from a block device's uevent file (/sys/dev/block/MAJOR:MINOR/uevent). */
export function parseUeventDevname(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('DEVNAME=')) return line.slice('DEVNAME='.length).trim() || undefined;
  }
  return undefined;
}
