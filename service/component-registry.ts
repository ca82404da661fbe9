import type { ComponentKind, Factory } from '../kit/component.ts';
import { registerFactory } from '../kit/component.ts';
import type { ExtensionFactory } from '../kit/extension.ts';
import { registerExtension } from '../kit/extension.ts';
import type { FactoryRegistry } from './config.ts';
import { createRegistry, typesNamed } from './config.ts';

/**
 * The registry of every component and extension inframeter knows, each by its kind and type
 * with the import that loads its factory. Adding a component is adding its folder and one line
 * here.
 *
 * Factories are imported only when a configuration names their type
 * ({@link loadRegistryFor}): a component's module tree, and the libraries it loads at import
 * (pg, snappy, net-snmp…), cost memory and start-up time that a collector not using it should
 * not pay (measured in docs/performance.md, "Memory of the node agent").
 * `service/components.ts` loads them all, for the tools that list every component.
 */
export interface RegistryEntry<K extends ComponentKind | 'extension' = ComponentKind | 'extension'> {
  readonly kind: K;
  /** The YAML key, equal to the component's `type`. */
  readonly type: string;
  /** Imports the component's `index.ts` and returns its factory. */
  readonly load: () => Promise<K extends 'extension' ? ExtensionFactory : Factory>;
}

type ComponentEntry = RegistryEntry<ComponentKind>;
type ExtensionEntry = RegistryEntry<'extension'>;

const entry = (kind: ComponentKind, type: string, load: () => Promise<Factory>): ComponentEntry => ({
  kind,
  type,
  load,
});

/** Every component, listed explicitly: receivers, processors, exporters. */
export const componentEntries: readonly ComponentEntry[] = [
  // receivers
  entry('receiver', 'procfs', async () =>
    registerFactory((await import('../receivers/procfs/index.ts')).procfsFactory),
  ),
  entry('receiver', 'cgroups', async () =>
    registerFactory((await import('../receivers/cgroups/index.ts')).cgroupsFactory),
  ),
  entry('receiver', 'process', async () =>
    registerFactory((await import('../receivers/process/index.ts')).processFactory),
  ),
  entry('receiver', 'snmp', async () =>
    registerFactory((await import('../receivers/snmp/index.ts')).snmpFactory),
  ),
  entry('receiver', 'ipmi', async () =>
    registerFactory((await import('../receivers/ipmi/index.ts')).ipmiFactory),
  ),
  entry('receiver', 'prometheus', async () =>
    registerFactory((await import('../receivers/prometheus/index.ts')).prometheusReceiverFactory),
  ),
  entry('receiver', 'kwollect', async () =>
    registerFactory((await import('../receivers/kwollect/index.ts')).kwollectFactory),
  ),
  entry('receiver', 'libvirt', async () =>
    registerFactory((await import('../receivers/libvirt/index.ts')).libvirtFactory),
  ),
  entry('receiver', 'kubevirt', async () =>
    registerFactory((await import('../receivers/kubevirt/index.ts')).kubevirtFactory),
  ),
  entry('receiver', 'kubevirt_logs', async () =>
    registerFactory((await import('../receivers/kubevirt_logs/index.ts')).kubevirtLogsFactory),
  ),
  entry('receiver', 'wattmetre', async () =>
    registerFactory((await import('../receivers/wattmetre/index.ts')).wattmetreFactory),
  ),
  entry('receiver', 'otlp', async () =>
    registerFactory((await import('../receivers/otlp/index.ts')).otlpReceiverFactory),
  ),
  // processors
  entry('processor', 'batch', async () =>
    registerFactory((await import('../processors/batch/index.ts')).batchFactory),
  ),
  entry('processor', 'relabel', async () =>
    registerFactory((await import('../processors/relabel/index.ts')).relabelFactory),
  ),
  entry('processor', 'resource', async () =>
    registerFactory((await import('../processors/resource/index.ts')).resourceFactory),
  ),
  // exporters
  entry('exporter', 'otlp', async () =>
    registerFactory((await import('../exporters/otlp/index.ts')).otlpExporterFactory),
  ),
  entry('exporter', 'csv', async () =>
    registerFactory((await import('../exporters/csv/index.ts')).csvFactory),
  ),
  entry('exporter', 'prometheus', async () =>
    registerFactory((await import('../exporters/prometheus/index.ts')).prometheusExporterFactory),
  ),
  entry('exporter', 'postgresql', async () =>
    registerFactory((await import('../exporters/postgresql/index.ts')).postgresqlExporterFactory),
  ),
  entry('exporter', 'influxdb', async () =>
    registerFactory((await import('../exporters/influxdb/index.ts')).influxdbExporterFactory),
  ),
  entry('exporter', 'prometheusremotewrite', async () =>
    registerFactory(
      (await import('../exporters/prometheusremotewrite/index.ts')).prometheusRemoteWriteFactory,
    ),
  ),
];

/** Every extension (`extensions:`, enabled by `service.extensions`). */
export const extensionEntries: readonly ExtensionEntry[] = [
  {
    kind: 'extension',
    type: 'experiments',
    load: async () =>
      registerExtension((await import('../extensions/experiments/index.ts')).experimentsExtensionFactory),
  },
];

/**
 * Loads the factory of one entry, checking that it is what the entry says (a wrong line in the
 * registry fails at once, naming itself).
 */
export async function loadEntry<K extends ComponentKind | 'extension'>(
  registryEntry: RegistryEntry<K>,
): Promise<K extends 'extension' ? ExtensionFactory : Factory> {
  const factory = await registryEntry.load();
  if (factory.kind !== registryEntry.kind || factory.type !== registryEntry.type)
    throw new Error(
      `service/component-registry.ts: the entry ${registryEntry.kind} "${registryEntry.type}" loaded the factory of ${factory.kind} "${factory.type}"`,
    );
  return factory;
}

const SECTION_OF_KIND = {
  receiver: 'receivers',
  processor: 'processors',
  exporter: 'exporters',
  extension: 'extensions',
} as const;

/**
 * The registry for one configuration (parsed YAML, not yet validated): the factories of the
 * types it names, loaded, and every type known (for the errors that list them). A type the
 * registry does not know is left for validation to report.
 */
export async function loadRegistryFor(data: unknown): Promise<FactoryRegistry> {
  const named = typesNamed(data);
  const entries = [...componentEntries, ...extensionEntries];
  const wanted = entries.filter((e) => named[SECTION_OF_KIND[e.kind]].has(e.type));
  const loaded = await Promise.all(wanted.map((e) => loadEntry(e)));
  const typesOf = (kind: keyof typeof SECTION_OF_KIND): string[] =>
    entries.filter((e) => e.kind === kind).map((e) => e.type);
  return {
    ...createRegistry(loaded),
    knownTypes: {
      receivers: typesOf('receiver'),
      processors: typesOf('processor'),
      exporters: typesOf('exporter'),
      extensions: typesOf('extension'),
    },
  };
}
