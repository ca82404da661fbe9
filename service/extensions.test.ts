import { Writable } from 'node:stream';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExtensionFactory } from '../kit/extension.ts';
import { ConfigError } from '../kit/errors.ts';
import { createSilentLogger } from '../kit/logger.ts';
import { countPoints } from '../kit/metrics-data.ts';
import { createTestFactories, createTestStore } from '../test/support/test-components.ts';
import type { TestStore } from '../test/support/test-components.ts';
import { waitUntil } from '../test/support/wait.ts';
import { listComponentsCommand } from './commands/list-components.ts';
import { createRegistry, loadConfigText } from './config.ts';
import { Service } from './service.ts';

const resource = resourceFromAttributes({ 'host.name': 'ext-test', 'service.name': 'inframeter' });
const running: Service[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
});

/** An extension `probe` that records its life cycle and counts the points each pipeline exports. */
function probeFactory(store: TestStore, seen: Map<string, number>): ExtensionFactory<{ label: string }> {
  return {
    kind: 'extension',
    type: 'probe',
    stability: 'development',
    description: 'Watches the pipelines.',
    configSchema: z.strictObject({ label: z.string().min(1).default('probe') }),
    create(settings, config) {
      const event = (what: string): void => {
        store.events.push(`${what} extension ${settings.id} ${config.label}`);
      };
      return {
        bind(host) {
          event(
            `bind [${[...host.receivers.keys()].join(',')}] [${host.pipelines.map((p) => p.id).join(',')}]`,
          );
        },
        wrapExporterSink(pipelineId, sink) {
          event(`wrap ${pipelineId}`);
          return {
            export(batch, done) {
              seen.set(pipelineId, (seen.get(pipelineId) ?? 0) + countPoints(batch));
              sink.export(batch, done);
            },
            forceFlush: () => sink.forceFlush(),
            shutdown: () => sink.shutdown(),
          };
        },
        start() {
          event('start');
          return Promise.resolve();
        },
        stopServing() {
          event('stop serving');
          return Promise.resolve();
        },
        shutdown() {
          event('shutdown');
          return Promise.resolve();
        },
        describe: () => `probe ${config.label}`,
      };
    },
  };
}

const YAML = `
receivers:
  ticker/a: { step: 1, collection_interval: 20ms }
exporters:
  memory/one: {}
extensions:
  probe/x: { label: watcher }
service:
  extensions: [probe/x]
  pipelines:
    metrics/a: { receivers: [ticker/a], exporters: [memory/one] }
`;

describe('extensions', () => {
  it('are created from their factory, see the receivers, wrap each exporter sink, start last and stop around the receivers', async () => {
    const store = createTestStore();
    const seen = new Map<string, number>();
    const registry = createRegistry([...createTestFactories(store), probeFactory(store, seen)]);
    const service = new Service(loadConfigText(YAML, 'test', registry, {}), createSilentLogger(), resource);
    running.push(service);
    await service.start();
    expect(service.extensionAddresses()).toEqual(new Map([['probe/x', 'probe watcher']]));
    // The extension sees what the exporter gets, batch for batch.
    await waitUntil(() => (seen.get('metrics/a') ?? 0) >= 3, 'three batches seen on metrics/a');
    await service.shutdown();
    const exported = (store.exported.get('memory/one') ?? []).reduce((n, b) => n + countPoints(b), 0);
    expect(seen.get('metrics/a')).toBe(exported);
    const events = store.events.filter((e) => !e.startsWith('flush'));
    expect(events).toEqual([
      'bind [ticker/a] [metrics/a] extension probe/x watcher',
      'wrap metrics/a extension probe/x watcher',
      'start exporter memory/one',
      'start receiver ticker/a',
      'start extension probe/x watcher',
      'stop serving extension probe/x watcher',
      'shutdown receiver ticker/a',
      'shutdown extension probe/x watcher',
      'shutdown exporter memory/one',
    ]);
  });

  it('are validated through the registry, every problem with its YAML path', () => {
    const store = createTestStore();
    const registry = createRegistry([...createTestFactories(store), probeFactory(store, new Map())]);
    const problems = (yaml: string): string[] => {
      try {
        loadConfigText(yaml, 'test', registry, {});
      } catch (error) {
        if (error instanceof ConfigError) return [...error.problems];
        throw error;
      }
      return [];
    };
    const pipelines = 'pipelines: { metrics: { receivers: [ticker], exporters: [memory] } }';
    const base = 'receivers: { ticker: {} }\nexporters: { memory: {} }\n';
    expect(
      problems(`${base}extensions: { probe: { label: "" } }\nservice: { extensions: [probe], ${pipelines} }`),
    ).toEqual(['extensions.probe.label: Too small: expected string to have >=1 characters']);
    expect(
      problems(
        `${base}extensions: { probe: {}, nope: {} }\nservice: { extensions: [probe, gone], ${pipelines} }`,
      ),
    ).toEqual([
      'extensions.nope: unknown extension; known: probe',
      'service.extensions[1]: "gone" is not defined under extensions',
    ]);
    expect(problems(`${base}extensions: { probe: {} }\nservice: { ${pipelines} }`)).toEqual([
      'extensions.probe: defined but not enabled (add it to service.extensions or remove it)',
    ]);
    expect(
      problems(`${base}extensions: { probe: ~ }\nservice: { extensions: [probe], ${pipelines} }`),
    ).toEqual([]);
  });

  it('are listed by `inframeter components` beside receivers, processors and exporters', () => {
    let text = '';
    listComponentsCommand(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          text += chunk.toString();
          done();
        },
      }),
    );
    expect(text).toMatch(/^receivers:$/m);
    expect(text).toMatch(/^extensions:\n {2}experiments \(alpha\): Control API/m);
    expect(text).toContain('    bearer_token: string (required)');
    expect(text).toContain('    endpoint: string (default "127.0.0.1:9470")');
  });
});
