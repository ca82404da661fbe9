// Regenerates the metric tables in receivers/*/README.md from each receiver's metadata.ts.
// `--check` changes nothing and exits 1 when a README is stale.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ReceiverMetadata } from './metadata.ts';
import { updateReadme } from './metadata.ts';

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
if (stale.length > 0) {
  process.stdout.write(`${check ? 'stale' : 'updated'}: ${stale.join(', ')}\n`);
  if (check) process.exitCode = 1;
} else {
  process.stdout.write('metric tables are current\n');
}
