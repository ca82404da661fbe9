import type { Writable } from 'node:stream';
import type { ConfigSource } from './load.ts';
import { loadCollectorConfig } from './load.ts';

/**
 * `inframeter validate --config FILE` (or `--kwollector-config FILE`,
 * `--kwollector-wattmetre-config FILE`): checks a configuration without starting anything.
 * Throws a ConfigError listing every problem; prints a summary when valid.
 */
export async function validateCommand(
  source: string | ConfigSource | undefined,
  out: Writable,
): Promise<void> {
  const config = await loadCollectorConfig(source);
  const file =
    typeof source === 'object' ? (source.config ?? source.kwollector ?? source.kwollectorWattmetre) : source;
  const lines = [`${file ?? '(embedded default)'}: configuration is valid`];
  for (const pipeline of config.pipelines) {
    const processors = pipeline.processors.length > 0 ? ` → ${pipeline.processors.join(' → ')}` : '';
    lines.push(
      `  ${pipeline.id}: [${pipeline.receivers.join(', ')}]${processors} → [${pipeline.exporters.join(', ')}]`,
    );
  }
  for (const warning of config.warnings) lines.push(`warning: ${warning}`);
  out.write(`${lines.join('\n')}\n`);
}
