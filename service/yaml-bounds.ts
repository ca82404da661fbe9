import type { Document, Node, Pair } from 'yaml';
import { isAlias, isCollection, isPair, isScalar, visit } from 'yaml';

/**
 * Bounds on a YAML configuration before it is turned into data: its size, and how far its
 * aliases expand (a "billion laughs" document of a few hundred bytes expands into billions
 * of nodes). A document past a bound is refused with the YAML path of the alias that
 * expands most.
 */

/** Largest configuration file accepted, in bytes. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Most nodes a document may hold once its aliases are expanded. */
export const MAX_EXPANDED_NODES = 100_000;

/** The YAML path of a node, from the ancestors `visit` gives: `receivers.snmp.targets[2]`. */
function pathText(path: readonly (Document | Node | Pair)[], key: number | 'key' | 'value' | null): string {
  const parts: string[] = [];
  const steps = [...path.slice(1), undefined];
  for (let i = 0; i < steps.length; i++) {
    const step = path[i + 1];
    const parent = path[i];
    if (step === undefined) {
      if (typeof key === 'number') parts.push(`[${String(key)}]`);
      continue;
    }
    if (isPair(step)) {
      const k = isScalar(step.key) ? String(step.key.value) : '?';
      parts.push(parts.length === 0 ? k : `.${k}`);
    } else if (isCollection(parent) && !isPair(step)) {
      const index = parent.items.indexOf(step as never);
      if (index >= 0 && !isPair(parent.items[index])) parts.push(`[${String(index)}]`);
    }
  }
  return parts.join('') || '(top level)';
}

/**
 * Problems of a parsed document past the bounds (empty when within them): each with the
 * source, line and YAML path of the alias that expands most.
 */
export function expansionProblems(
  doc: Document,
  source: string,
  linePos: (offset: number) => { line: number; col: number },
): string[] {
  const sizes = new Map<unknown, number>();
  const resolving = new Set<unknown>();
  const size = (node: unknown): number => {
    const known = sizes.get(node);
    if (known !== undefined) return known;
    // A cycle through aliases: yaml refuses it on its own.
    if (resolving.has(node)) return 1;
    resolving.add(node);
    let n = 1;
    if (isAlias(node)) n = size(node.resolve(doc));
    else if (isCollection(node))
      for (const item of node.items) n += isPair(item) ? size(item.key) + size(item.value) : size(item);
    resolving.delete(node);
    // Saturates: the count only has to say "too many".
    n = Math.min(n, Number.MAX_SAFE_INTEGER);
    sizes.set(node, n);
    return n;
  };
  const total = size(doc.contents);
  if (total <= MAX_EXPANDED_NODES) return [];
  let worst: { n: number; path: string; offset: number } | undefined;
  visit(doc, {
    Alias: (key, node, path) => {
      const n = size(node);
      if (worst === undefined || n > worst.n)
        worst = { n, path: pathText(path, key), offset: node.range?.[0] ?? 0 };
    },
  });
  const where = worst === undefined ? { line: 1, col: 1 } : linePos(worst.offset);
  return [
    `${source}:${String(where.line)}:${String(where.col)}: ${worst?.path ?? '(top level)'}: aliases expand ` +
      `the document past ${String(MAX_EXPANDED_NODES)} nodes (a YAML alias bomb); write the values out instead`,
  ];
}
