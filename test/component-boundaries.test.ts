import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import rules of ARCHITECTURE.md, read from the sources: the kit imports no component and
 * not the service; a component imports no service module, and another component only
 * through that component's `index.ts` (its documented public module), never its internals.
 * Tests and test data are exempt (they cross components on purpose).
 */

const ROOT = join(import.meta.dirname, '..');
const COMPONENT_KINDS = ['receivers', 'processors', 'exporters', 'extensions'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'testdata' || entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The relative modules a file imports (static, type-only, re-exports and dynamic), from the root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)) {
    const spec = match[1];
    if (spec !== undefined) found.push(normalize(join(dirname(file), spec)));
  }
  return found;
}

/** The component a path belongs to (`receivers/kubevirt`, `extensions/experiments`), if any. */
function componentOf(path: string): string | undefined {
  const [kind, name] = path.split('/');
  return kind !== undefined && name !== undefined && COMPONENT_KINDS.includes(kind) && !name.endsWith('.ts')
    ? `${kind}/${name}`
    : undefined;
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of [...sources('kit'), ...COMPONENT_KINDS.flatMap((kind) => sources(kind))]) {
    const own = componentOf(file);
    for (const target of importsOf(file)) {
      const rel = relative('.', target);
      const other = componentOf(rel);
      const upward = rel.startsWith('service/') || (own === undefined && other !== undefined);
      const internal = other !== undefined && other !== own && rel !== `${other}/index.ts`;
      if (own === undefined ? upward : upward || internal) found.push(`${file} -> ${rel}`);
    }
  }
  return found;
}

/** Every cycle of the import graph of `files`, each as the chain of files that closes it. */
function cycles(files: readonly string[]): string[] {
  const edges = new Map(files.map((file) => [file, importsOf(file).map((target) => relative('.', target))]));
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (state.get(file) === undefined) visit(file);
  return found;
}

describe('component boundaries', () => {
  it('finds the imports it checks', () => {
    expect(importsOf('receivers/kubevirt/scraper.ts')).toContain('receivers/libvirt/index.ts');
    expect(importsOf('receivers/kubevirt/index.ts')).toContain('receivers/kubevirt/discovery.ts');
    expect(componentOf('receivers/kubevirt/parse/vmi.ts')).toBe('receivers/kubevirt');
    expect(componentOf('kit/procfs/stat.ts')).toBeUndefined();
  });

  it('kit imports no component or service module; components import others only through their index.ts', () => {
    expect(violations()).toEqual([]);
  });

  it('no module imports itself back through others (type imports included)', () => {
    const files = ['kit', 'service', ...COMPONENT_KINDS].flatMap((dir) => sources(dir));
    expect(cycles(files)).toEqual([]);
  });
});
