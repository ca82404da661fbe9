import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The version in inframeter's package.json (found from this module, in source or in dist/). */
export function readPackageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4 && cached === undefined; i += 1) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'inframeter' && typeof pkg.version === 'string') cached = pkg.version;
    }
    dir = dirname(dir);
  }
  cached ??= '0.0.0';
  return cached;
}
