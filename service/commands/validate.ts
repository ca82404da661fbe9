import type { Writable } from 'node:stream';
import { loadCollectorConfig } from './load.ts';

/**
 * `inframeter validate --config FILE`: checks a configuration without starting anything.
 * Throws a ConfigError listing every problem; prints a summary when valid.
 */
export async function validateCommand(path: string | undefined, out: Writable): Promise<void> {
  const config = await loadCollectorConfig(path);
  const lines = [`${path ?? '(embedded default)'}: configuration is valid`];
  for (const pipeline of config.pipelines) {
    const processors = pipeline.processors.length > 0 ? ` → ${pipeline.processors.join(' → ')}` : '';
    lines.push(
      `  ${pipeline.id}: [${pipeline.receivers.join(', ')}]${processors} → [${pipeline.exporters.join(', ')}]`,
    );
  }
  for (const warning of config.warnings) lines.push(`warning: ${warning}`);
  out.write(`${lines.join('\n')}\n`);
}
