import { createHash } from 'node:crypto';
import type { RelabelRule } from './config.ts';

/**
 * A label set being relabelled: names to values, iterated in insertion order. A Map is one;
 * the processor passes a view of a point that copies nothing until a rule changes a label.
 */
export interface Labels {
  get(name: string): string | undefined;
  set(name: string, value: string): unknown;
  delete(name: string): unknown;
  keys(): Iterable<string>;
  [Symbol.iterator](): Iterator<[string, string]>;
}

/** The rule's source labels' values joined with its separator. */
function sourceValue(rule: RelabelRule, labels: Labels): string {
  const names = rule.source_labels;
  if (names.length === 1) return labels.get(names[0] ?? '') ?? '';
  let value = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) value += rule.separator;
    value += labels.get(names[i] ?? '') ?? '';
  }
  return value;
}

/**
 * Expands a Go regexp template (`$1`, `${1}`, `$name`, `${name}`, `$$`) with the groups of
 * `regex` matched against `value`, as Go's Regexp.ExpandString does (an unknown group is
 * empty; `$1x` names the group `1x`); undefined when it does not match.
 */
function expand(regex: RegExp, template: string, value: string): string | undefined {
  const match = regex.exec(value);
  if (match === null) return undefined;
  return template.replace(
    /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
    (_, all: string, braced?: string, bare?: string) => {
      if (all === '$') return '$';
      const name = braced ?? bare ?? '';
      const group = /^\d+$/.test(name) ? match[Number(name)] : match.groups?.[name];
      return group ?? '';
    },
  );
}

/** Prometheus's hashmod: md5 of the value, its last 8 bytes as a big-endian uint64, modulo. */
export function hashmod(value: string, modulus: number): number {
  const digest = createHash('md5').update(value).digest();
  return Number(digest.readBigUInt64BE(8) % BigInt(modulus));
}

/**
 * Applies one rule as Prometheus does (model/relabel.Process). Returns false when the rule
 * drops the whole label set.
 */
export function applyRule(rule: RelabelRule, labels: Labels): boolean {
  const value = sourceValue(rule, labels);
  switch (rule.action) {
    case 'drop':
      return !rule.regex.test(value);
    case 'keep':
      return rule.regex.test(value);
    case 'replace': {
      const target = expand(rule.regex, rule.target_label ?? '', value);
      const result = expand(rule.regex, rule.replacement, value);
      if (target === undefined || result === undefined) return true;
      // An invalid (here: empty) expanded target or an empty result deletes the target as written.
      if (target === '' || result === '') labels.delete(rule.target_label ?? '');
      else labels.set(target, result);
      return true;
    }
    case 'lowercase':
      labels.set(rule.target_label ?? '', value.toLowerCase());
      return true;
    case 'uppercase':
      labels.set(rule.target_label ?? '', value.toUpperCase());
      return true;
    case 'hashmod':
      labels.set(rule.target_label ?? '', String(hashmod(value, rule.modulus ?? 1)));
      return true;
    case 'labelmap':
      for (const [name, v] of [...labels]) {
        const mapped = expand(rule.regex, rule.replacement, name);
        if (mapped !== undefined) labels.set(mapped, v);
      }
      return true;
    case 'labeldrop':
      for (const name of [...labels.keys()]) if (rule.regex.test(name)) labels.delete(name);
      return true;
    case 'labelkeep':
      for (const name of [...labels.keys()]) if (!rule.regex.test(name)) labels.delete(name);
      return true;
  }
}

/** Applies rules in order; false as soon as one drops the set. */
export function applyRules(rules: readonly RelabelRule[], labels: Labels): boolean {
  for (const rule of rules) if (!applyRule(rule, labels)) return false;
  return true;
}
