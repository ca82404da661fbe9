// Regenerates the metric tables in receivers/*/README.md from each receiver's metadata.ts,
// and the components table (extensions included) of the top-level README.md from service/components.ts.
// `--check` changes nothing and exits 1 when a README is stale.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { extensionFactories, factories } from './components.ts';
import type { ReceiverMetadata } from '../kit/metadata.ts';
import { documentValues, renderValuesTable, updateValuesTable } from '../scripts/values-docs.ts';
import { updateReadme } from '../kit/metadata.ts';

function isMetadata(value: unknown): value is ReceiverMetadata {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    'metrics' in value &&
    Array.isArray(value.metrics)
  );
}

const check = process.argv.includes('--check');
const root = join(import.meta.dirname, '..', 'receivers');
const stale: string[] = [];
for (const entry of readdirSync(root, { withFileTypes: true })) {
  const metadataFile = join(root, entry.name, 'metadata.ts');
  const readmeFile = join(root, entry.name, 'README.md');
  if (!entry.isDirectory() || !existsSync(metadataFile) || !existsSync(readmeFile)) continue;
  const module = (await import(pathToFileURL(metadataFile).href)) as Record<string, unknown>;
  const metadata = Object.values(module).find(isMetadata);
  if (metadata === undefined) continue;
  const current = readFileSync(readmeFile, 'utf8');
  const updated = updateReadme(current, metadata);
  if (updated === current) continue;
  stale.push(readmeFile);
  if (!check) writeFileSync(readmeFile, updated);
}
const COMPONENTS_START = '<!-- components:start -->';
const COMPONENTS_END = '<!-- components:end -->';
const folder = {
  receiver: 'receivers',
  processor: 'processors',
  exporter: 'exporters',
  extension: 'extensions',
} as const;
const table = [
  '| kind | type | stability | what it does | reference |',
  '|---|---|---|---|---|',
  ...[...factories, ...extensionFactories].map((f) => {
    const dir = `${folder[f.kind]}/${f.type}`;
    const reference = existsSync(join(root, '..', dir, 'README.md')) ? `[${dir}](${dir}/README.md)` : '';
    return `| ${f.kind} | \`${f.type}\` | ${f.stability} | ${f.description.replaceAll('|', '\\|')} | ${reference} |`;
  }),
].join('\n');
const readmeFile = join(root, '..', 'README.md');
const readme = readFileSync(readmeFile, 'utf8');
const start = readme.indexOf(COMPONENTS_START);
const end = readme.indexOf(COMPONENTS_END);
if (start >= 0 && end > start) {
  const updated = `${readme.slice(0, start + COMPONENTS_START.length)}\n${table}\n${readme.slice(end)}`;
  if (updated !== readme) {
    stale.push(readmeFile);
    if (!check) writeFileSync(readmeFile, updated);
  }
}
// The Helm chart's values table, from the `# --` comments of values.yaml.
const chart = join(root, '..', 'helm', 'inframeter');
if (existsSync(join(chart, 'values.yaml'))) {
  const { rows, undocumented } = documentValues(readFileSync(join(chart, 'values.yaml'), 'utf8'));
  if (undocumented.length > 0) {
    process.stdout.write(`helm/inframeter/values.yaml: undocumented values: ${undocumented.join(', ')}\n`);
    process.exitCode = 1;
  }
  const chartReadme = join(chart, 'README.md');
  const text = readFileSync(chartReadme, 'utf8');
  const updated = updateValuesTable(text, renderValuesTable(rows));
  if (updated !== text) {
    stale.push(chartReadme);
    if (!check) writeFileSync(chartReadme, updated);
  }
}
if (stale.length > 0) {
  process.stdout.write(`${check ? 'stale' : 'updated'}: ${stale.join(', ')}\n`);
  if (check) process.exitCode = 1;
} else {
  process.stdout.write('metric tables are current\n');
}
