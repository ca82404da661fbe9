import { describe, expect, it } from 'vitest';
import { ConfigError } from '../kit/errors.ts';
import { componentEntries, extensionEntries, loadEntry, loadRegistryFor } from './component-registry.ts';
import { buildConfig, parseConfigText } from './config.ts';

describe('the component registry', () => {
  it('loads, for every entry, the factory of the kind and type it names', async () => {
    for (const entry of [...componentEntries, ...extensionEntries]) {
      const factory = await loadEntry(entry);
      expect([factory.kind, factory.type]).toEqual([entry.kind, entry.type]);
    }
  }, 120_000);

  it('loads only the factories a configuration names, and still knows every type', async () => {
    const data = parseConfigText(
      `
receivers:
  procfs: {}
  procfz/typo: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:0" }
service:
  pipelines:
    metrics: { receivers: [procfs], exporters: [prometheus] }
`,
      'registry.yaml',
    );
    const registry = await loadRegistryFor(data);
    expect([...registry.receivers.keys()]).toEqual(['procfs']);
    expect([...registry.processors.keys()]).toEqual([]);
    expect([...registry.exporters.keys()]).toEqual(['prometheus']);
    const receiverTypes = componentEntries.filter((e) => e.kind === 'receiver').map((e) => e.type);
    let error: unknown;
    try {
      buildConfig(data, registry, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(
      `receivers.procfz/typo: unknown receiver type "procfz"; known types: ${[...receiverTypes].sort().join(', ')}`,
    );
  }, 60_000);
});
