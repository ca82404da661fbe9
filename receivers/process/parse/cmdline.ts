/**
 * `/proc/<pid>/cmdline` (proc_pid_cmdline(5)): the arguments separated by NUL bytes, joined
 * here with spaces. Empty for kernel threads and zombies.
 */
export function parseCmdline(text: string): string {
  const end = text.endsWith('\0') ? text.length - 1 : text.length;
  return text.slice(0, end).replaceAll('\0', ' ');
}
