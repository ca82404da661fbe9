import { loadRegistryFor } from '../component-registry.ts';
import type { CollectorConfig } from '../config.ts';
import { buildConfig, parseConfigText, readConfigFile } from '../config.ts';
import { DEFAULT_CONFIG } from '../default-config.ts';

/**
 * Loads `--config FILE`, or the embedded default when no file is given, loading only the
 * factories of the component types it names.
 */
export async function loadCollectorConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CollectorConfig> {
  const data =
    path === undefined ? parseConfigText(DEFAULT_CONFIG, '(embedded default)') : readConfigFile(path);
  return buildConfig(data, await loadRegistryFor(data), env);
}
