/**
 * The first process id of a cgroup.procs (or tasks) file: one pid per line. Undefined when
 * the cgroup holds no process. Only the first line is looked at, so a caller may hand in the
 * first bytes of a long file.
 */
export function parseFirstPid(text: string): number | undefined {
  const end = text.indexOf('\n');
  const first = (end < 0 ? text : text.slice(0, end)).trim();
  if (!/^\d+$/.test(first)) return undefined;
  return Number(first);
}
