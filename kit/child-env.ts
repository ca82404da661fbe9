/**
 * The environment a child process (a libvirt connection, `ipmi-sensors`) is given: only the
 * variables it needs to run, never the collector's whole environment, which holds the
 * secrets that `${env:NAME}` substitutes into the configuration.
 */

/** Variables every child may see: where programs and the user's files are, the locale. */
const BASE = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'XDG_RUNTIME_DIR'];

/** The allow-listed part of `env`, plus the variables named in `extra` (or matching a prefix ending in `*`). */
export function childEnvironment(
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const names = [...BASE, ...extra];
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const allowed = names.some((n) => (n.endsWith('*') ? key.startsWith(n.slice(0, -1)) : key === n));
    if (allowed) out[key] = value;
  }
  return out;
}
