/**
 * The inode number of a namespace link (`readlink /proc/PID/ns/net` gives `net:[4026531840]`,
 * namespaces(7)). Undefined when the text has another shape.
 */
export function parseNamespaceLink(text: string): number | undefined {
  const match = /^[a-z_]+:\[(\d+)\]$/.exec(text.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
