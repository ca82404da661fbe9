import type { MetricSink } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import type { Extension, ExtensionFactory, ExtensionHost, ExtensionSettings } from '../../kit/extension.ts';
import type { ExperimentsConfig } from './config.ts';
import { experimentsConfigSchema } from './config.ts';
import { ExperimentManager } from './manager.ts';
import type { PodDiscovery } from './proxy-discovery.ts';
import { ControlServer } from './server.ts';

/**
 * The `experiments` extension: its manager sees the receivers (to change their collection
 * interval while an experiment asks) and taps every metrics pipeline after its processors (to
 * write what the pipeline exports to the running experiments' CSV files); its control API
 * listens once the pipelines run, and closes before the receivers stop.
 */
export class ExperimentsExtension implements Extension {
  readonly #settings: ExtensionSettings;
  readonly #config: ExperimentsConfig;
  #manager: ExperimentManager | undefined;
  #control: ControlServer | undefined;
  #discovery: PodDiscovery | undefined;

  constructor(settings: ExtensionSettings, config: ExperimentsConfig) {
    this.#settings = settings;
    this.#config = config;
  }

  bind(host: ExtensionHost): void {
    this.#manager ??= new ExperimentManager(
      this.#config.directory,
      this.#settings.logger,
      host.receivers,
      host.pipelines,
    );
  }

  wrapExporterSink(pipelineId: string, sink: MetricSink): MetricSink {
    return this.#manager?.tap(pipelineId, sink) ?? sink;
  }

  async start(): Promise<void> {
    // An extension the service did not bind sees no receiver and no pipeline.
    this.bind({ receivers: new Map(), pipelines: [] });
    if (this.#manager === undefined || this.#control !== undefined) return;
    this.#discovery = await this.#startDiscovery();
    this.#control = new ControlServer(
      this.#manager,
      this.#config.bearer_token.reveal(),
      this.#settings.logger,
      {
        proxyTargets: this.#config.proxy_targets,
        ...(this.#discovery === undefined ? {} : { discovered: this.#discovery }),
      },
    );
    await this.#control.listen(this.#config.endpoint);
  }

  /** The pod watch of `proxy_discovery.kubernetes`; the Kubernetes client is loaded only when configured. */
  async #startDiscovery(): Promise<PodDiscovery | undefined> {
    const k8s = this.#config.proxy_discovery.kubernetes;
    if (k8s === undefined) return undefined;
    const { createPodDiscovery, loadKubeConfig } = await import('./proxy-discovery.ts');
    const errorLog = new ErrorLog(this.#settings.logger);
    const key = `kubernetes pod watch (proxy_discovery, namespace ${k8s.namespace})`;
    const discovery = createPodDiscovery({
      kubeConfig: loadKubeConfig(k8s.auth_type, k8s.kubeconfig),
      namespace: k8s.namespace,
      labelSelector: k8s.label_selector,
      port: k8s.port,
      onError: (error) => {
        errorLog.report(key, error);
      },
      onRecovered: () => {
        errorLog.recovered(key);
      },
    });
    discovery.start();
    return discovery;
  }

  async stopServing(): Promise<void> {
    await this.#control?.close();
    await this.#discovery?.stop();
  }

  async shutdown(): Promise<void> {
    await this.stopServing();
    await this.#manager?.shutdown();
  }

  describe(): string | undefined {
    return this.#control?.describe();
  }
}

/** The experiments extension: researchers start and stop collection under a name. */
export const experimentsExtensionFactory: ExtensionFactory<ExperimentsConfig> = {
  kind: 'extension',
  type: 'experiments',
  stability: 'alpha',
  description:
    'Control API to start and stop experiments: while one runs, what its receivers export is also written to its own CSV, with its labels and an optional faster collection interval.',
  configSchema: experimentsConfigSchema,
  create(settings, config) {
    return new ExperimentsExtension(settings, config);
  },
};
