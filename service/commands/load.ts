import { extensionFactories, factories } from '../components.ts';
import type { CollectorConfig } from '../config.ts';
import { createRegistry, loadConfigFile, loadConfigText } from '../config.ts';
import { DEFAULT_CONFIG } from '../default-config.ts';

/** Loads `--config FILE`, or the embedded default when no file is given. */
export function loadCollectorConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  const registry = createRegistry([...factories, ...extensionFactories]);
  return path === undefined
    ? loadConfigText(DEFAULT_CONFIG, '(embedded default)', registry, env)
    : loadConfigFile(path, registry, env);
}
