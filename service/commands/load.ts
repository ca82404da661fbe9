import { extensionFactories, factories } from '../components.ts';
import type { CollectorConfig } from '../config.ts';
import { buildConfig, createRegistry, loadConfigFile, loadConfigText } from '../config.ts';
import { DEFAULT_CONFIG } from '../default-config.ts';
import { readKwollectorConfig } from '../kwollector-config.ts';
import { ConfigError } from '../../kit/errors.ts';

/** Where the configuration comes from: at most one of these files. */
export interface ConfigSource {
  /** `--config FILE`: inframeter's YAML. */
  readonly config?: string | undefined;
  /** `--kwollector-config FILE`: a kwollector configuration file, as it is. */
  readonly kwollector?: string | undefined;
  /** `--kwollector-wattmetre-config FILE`: a kwollector-wattmetre configuration file, as it is. */
  readonly kwollectorWattmetre?: string | undefined;
}

/**
 * Loads `--config FILE`, a kwollector's file (service/kwollector-config.ts), or the embedded
 * default when no file is given.
 */
export function loadCollectorConfig(
  source: string | ConfigSource | undefined,
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  const { config, kwollector, kwollectorWattmetre } =
    typeof source === 'object'
      ? source
      : { config: source, kwollector: undefined, kwollectorWattmetre: undefined };
  const given = [config, kwollector, kwollectorWattmetre].filter((file) => file !== undefined);
  if (given.length > 1)
    throw new ConfigError([
      'give only one of --config, --kwollector-config and --kwollector-wattmetre-config',
    ]);
  const registry = createRegistry([...factories, ...extensionFactories]);
  if (kwollector !== undefined)
    return buildConfig(readKwollectorConfig('kwollector', kwollector), registry, env);
  if (kwollectorWattmetre !== undefined)
    return buildConfig(readKwollectorConfig('kwollector-wattmetre', kwollectorWattmetre), registry, env);
  return config === undefined
    ? loadConfigText(DEFAULT_CONFIG, '(embedded default)', registry, env)
    : loadConfigFile(config, registry, env);
}

/** The configuration's origin, for messages. */
export function describeSource(source: ConfigSource): string {
  if (source.kwollector !== undefined) return `kwollector configuration ${source.kwollector}`;
  if (source.kwollectorWattmetre !== undefined)
    return `kwollector-wattmetre configuration ${source.kwollectorWattmetre}`;
  return source.config ?? 'embedded default configuration';
}
