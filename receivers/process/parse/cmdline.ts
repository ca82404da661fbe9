/**
 * `/proc/<pid>/cmdline` (proc_pid_cmdline(5)): the arguments separated by NUL bytes, joined
 * here with spaces. Empty for kernel threads and zombies.
 */
export function parseCmdline(text: string): string {
  const end = text.endsWith('\0') ? text.length - 1 : text.length;
  return text.slice(0, end).replaceAll('\0', ' ');
}

/**
 * The command of `/proc/<pid>/cmdline`: its first argument (argv[0]), as OpenTelemetry's
 * `process.command` defines it. Empty for kernel threads and zombies. A process that rewrote
 * its arguments into one string (`nginx: worker process`) gives that whole string.
 */
export function parseCommand(text: string): string {
  const end = text.indexOf('\0');
  return end < 0 ? text : text.slice(0, end);
}
