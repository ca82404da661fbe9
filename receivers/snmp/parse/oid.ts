/**
 * Numeric object identifiers (RFC 2578 §3.5) as dotted strings without a leading dot:
 * `1.3.6.1.2.1.1.3.0`. The receiver never resolves MIB names; profiles cite them in comments.
 */

const OID_PATTERN = /^\.?(\d+)(\.\d+)+$/;

/** True when `text` is a dotted numeric OID (a leading dot is allowed). */
export function isOid(text: string): boolean {
  return OID_PATTERN.test(text);
}

/** `.1.3.6.1` → `1.3.6.1`. */
export function normalizeOid(text: string): string {
  return text.startsWith('.') ? text.slice(1) : text;
}

/** True when `oid` lies strictly under `base` (`1.3.6.1.2.1.2.2.1.2.5` is under `1.3.6.1.2.1.2.2.1.2`). */
export function isUnder(base: string, oid: string): boolean {
  return oid.length > base.length + 1 && oid.startsWith(base) && oid.charCodeAt(base.length) === 46;
}

/** The instance part of `oid` under `base` (`5` for ifDescr.5), or undefined when it is not under it. */
export function indexUnder(base: string, oid: string): string | undefined {
  return isUnder(base, oid) ? oid.slice(base.length + 1) : undefined;
}

/** Compares two OIDs in lexicographic (MIB walk) order, sub-identifier by sub-identifier. */
export function compareOids(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const diff = Number(left[i]) - Number(right[i]);
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}
