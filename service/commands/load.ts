import { loadRegistryFor } from '../component-registry.ts';
import type { CollectorConfig } from '../config.ts';
import { buildConfig, parseConfigText, readConfigFile } from '../config.ts';
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
 * default when no file is given, loading only the factories of the component types it names.
 */
export async function loadCollectorConfig(
  source: string | ConfigSource | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CollectorConfig> {
  const { config, kwollector, kwollectorWattmetre } =
    typeof source === 'object'
      ? source
      : { config: source, kwollector: undefined, kwollectorWattmetre: undefined };
  const given = [config, kwollector, kwollectorWattmetre].filter((file) => file !== undefined);
  if (given.length > 1)
    throw new ConfigError([
      'give only one of --config, --kwollector-config and --kwollector-wattmetre-config',
    ]);
  const data =
    kwollector !== undefined
      ? readKwollectorConfig('kwollector', kwollector)
      : kwollectorWattmetre !== undefined
        ? readKwollectorConfig('kwollector-wattmetre', kwollectorWattmetre)
        : config === undefined
          ? parseConfigText(DEFAULT_CONFIG, '(embedded default)')
          : readConfigFile(config);
  return buildConfig(data, await loadRegistryFor(data), env);
}

/** The configuration's origin, for messages. */
export function describeSource(source: ConfigSource): string {
  if (source.kwollector !== undefined) return `kwollector configuration ${source.kwollector}`;
  if (source.kwollectorWattmetre !== undefined)
    return `kwollector-wattmetre configuration ${source.kwollectorWattmetre}`;
  return source.config ?? 'embedded default configuration';
}
