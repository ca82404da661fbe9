import { parse as parseYaml } from 'yaml';

/**
 * The values table of a Helm chart's README, from the `# -- description` comments of its
 * values.yaml (the helm-docs convention: the comment right above a key documents it).
 */

export const VALUES_START = '<!-- values:start -->';
export const VALUES_END = '<!-- values:end -->';

interface Row {
  path: string;
  value: unknown;
  description: string;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Every documented key, and every leaf that neither it nor an ancestor documents. */
export function documentValues(text: string): { rows: Row[]; undocumented: string[] } {
  const values = parseYaml(text) as unknown;
  const rows: Row[] = [];
  const stack: { indent: number; key: string }[] = [];
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const comment = /^(\s*)#\s?(.*)$/.exec(line);
    if (comment !== null) {
      const body = comment[2] ?? '';
      if (body.startsWith('-- ')) pending = [body.slice(3)];
      else if (pending !== undefined) pending.push(body);
      continue;
    }
    const key = /^(\s*)([A-Za-z0-9_]+):(?:\s|$)/.exec(line);
    if (key === null) {
      if (line.trim() === '') pending = undefined;
      continue;
    }
    const indent = (key[1] ?? '').length;
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: key[2] ?? '' });
    const path = stack.map((s) => s.key);
    if (pending !== undefined) {
      rows.push({
        path: path.join('.'),
        value: valueAt(values, path),
        description: pending.join(' ').trim(),
      });
    }
    pending = undefined;
  }
  const documented = new Set(rows.map((r) => r.path));
  const undocumented: string[] = [];
  const walk = (node: unknown, path: string[]): void => {
    const here = path.join('.');
    if (path.length > 0 && documented.has(here)) return;
    if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
      for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      return;
    }
    undocumented.push(here);
  };
  walk(values, []);
  return { rows, undocumented };
}

/** The Markdown table of the documented values. */
export function renderValuesTable(rows: readonly Row[]): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [
    '| key | default | description |',
    '|---|---|---|',
    ...rows.map(
      (r) => `| \`${r.path}\` | \`${cell(JSON.stringify(r.value ?? null))}\` | ${cell(r.description)} |`,
    ),
  ].join('\n');
}

/** The README with its values table replaced; unchanged when the markers are missing. */
export function updateValuesTable(readme: string, table: string): string {
  const start = readme.indexOf(VALUES_START);
  const end = readme.indexOf(VALUES_END);
  if (start < 0 || end < start) return readme;
  return `${readme.slice(0, start + VALUES_START.length)}\n${table}\n${readme.slice(end)}`;
}
