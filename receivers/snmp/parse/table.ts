import type { DecodedVarbind, RawVarbind } from './varbind.ts';
import { decodeVarbind } from './varbind.ts';

/** The rows of one walked column: instance index (`3`, `1.7.5`) → decoded value. */
export type Column = ReadonlyMap<string, DecodedVarbind>;

/**
 * Groups the varbinds of a walk by the column they belong to, each keyed by its index (the
 * sub-identifiers after the column OID). A varbind outside every column is ignored; where
 * columns nest, the longest one takes it.
 */
export function groupColumns(
  columns: readonly string[],
  varbinds: readonly RawVarbind[],
): Map<string, Column> {
  const out = new Map<string, Map<string, DecodedVarbind>>(columns.map((column) => [column, new Map()]));
  for (const varbind of varbinds) {
    const { oid } = varbind;
    let cut = oid.lastIndexOf('.');
    while (cut > 0) {
      const rows = out.get(oid.slice(0, cut));
      if (rows !== undefined) {
        rows.set(oid.slice(cut + 1), decodeVarbind(varbind));
        break;
      }
      cut = oid.lastIndexOf('.', cut - 1);
    }
  }
  return out;
}

/** The first `length` sub-identifiers of an index (`1.7.5`, 2 → `1.7`); undefined when shorter. */
export function indexPrefix(index: string, length: number): string | undefined {
  let cut = -1;
  for (let i = 0; i < length; i++) {
    cut = index.indexOf('.', cut + 1);
    if (cut < 0) return i === length - 1 ? index : undefined;
  }
  return index.slice(0, cut);
}

/** The index without a trailing suffix (`1.7.5` without `5` → `1.7`); undefined when it does not end so. */
export function stripIndexSuffix(index: string, suffix: string): string | undefined {
  if (index.length <= suffix.length + 1 || !index.endsWith(suffix)) return undefined;
  return index.charCodeAt(index.length - suffix.length - 1) === 46
    ? index.slice(0, index.length - suffix.length - 1)
    : undefined;
}
