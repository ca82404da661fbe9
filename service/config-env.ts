/**
 * `${env:NAME}` substitution in parsed configuration values. Substitution happens in string
 * scalars after YAML parsing, so a variable's value can never inject YAML structure.
 * `${env:NAME:-default}` gives a default; `$${` writes a literal `${`. An unset variable
 * without a default is an error naming the YAML path.
 */

const REFERENCE = /\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Path segments of a config value (`receivers`, `snmp/rack1`, `targets`, 0, …). */
export type ConfigPath = readonly (string | number)[];

/** `receivers.snmp/rack1.targets[0].user` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(root)' : out;
}

/** Replaces the references in one string; collects problems for unset variables. */
function substituteString(
  text: string,
  env: NodeJS.ProcessEnv,
  path: ConfigPath,
  problems: string[],
): string {
  return text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${';
    const value = name === undefined ? undefined : env[name];
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    problems.push(`${formatPath(path)}: environment variable ${name ?? ''} is not set`);
    return '';
  });
}

/** Returns a copy of `value` with every `${env:…}` reference in its strings substituted. */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: ConfigPath = [],
): unknown {
  if (typeof value === 'string') return substituteString(value, env, path, problems);
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, problems, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = substituteEnv(item, env, problems, [...path, key]);
    return out;
  }
  return value;
}
