import type { ReceiverFactory } from '../../kit/component.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { loadVmDiscovery } from '../kubevirt/index.ts';
import type { KubevirtLogsConfig } from './config.ts';
import { configSchema } from './config.ts';
import { KubevirtLogsReceiver } from './receiver.ts';

/** The kubevirt_logs receiver: virt-launcher and virt-handler logs of the node's VMs. */
export const kubevirtLogsFactory: ReceiverFactory<KubevirtLogsConfig> = {
  kind: 'receiver',
  type: 'kubevirt_logs',
  stability: 'alpha',
  description:
    "The virt-launcher and virt-handler logs of this node's KubeVirt VMs through the Kubernetes log API, kept in rotated per-VM files and/or sent as log records.",
  configSchema,
  signals: ['logs'],
  standalone: true,
  create(settings, config) {
    return new KubevirtLogsReceiver(settings, config, async () => {
      // The Kubernetes client is loaded only when the receiver runs.
      const [{ createLogApi, loadKubeConfig }, createVmDiscovery] = await Promise.all([
        import('./client.ts'),
        loadVmDiscovery(),
      ]);
      const kubeConfig = await loadKubeConfig(config.auth_type, config.kubeconfig);
      const errors = new ErrorLog(settings.logger);
      const targets = createVmDiscovery({
        kubeConfig,
        nodeName: config.node_name,
        namespaces: config.namespaces,
        onError: (error, resource) => {
          errors.report(`watch ${resource}`, error);
        },
      });
      return { api: await createLogApi(kubeConfig), targets };
    });
  },
};
