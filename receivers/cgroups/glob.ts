/**
 * Globs over cgroup paths (`/kubepods.slice/**`, `/system.slice/*.service`): `*` matches within
 * one path segment, `**` across segments (`/a/**` also matches `/a` itself), `?` one character
 * other than `/`. Everything else is literal.
 */

/** Compiles a glob into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i] ?? '';
    if (c === '/' && glob.startsWith('/**', i) && (i + 3 === glob.length || glob[i + 3] === '/')) {
      // "/**" matches "" or "/anything": the directory itself and everything below it.
      out += '(?:/.*)?';
      i += 3;
    } else if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i += 2;
    } else if (c === '*') {
      out += '[^/]*';
      i += 1;
    } else if (c === '?') {
      out += '[^/]';
      i += 1;
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      i += 1;
    }
  }
  return new RegExp(`^${out}$`);
}

/** A glob and its compiled form. */
export interface CgroupGlob {
  readonly glob: string;
  readonly regex: RegExp;
}

/** Whether `path` matches any of `globs`. */
export function matchesAny(globs: readonly CgroupGlob[], path: string): boolean {
  for (const { regex } of globs) if (regex.test(path)) return true;
  return false;
}
