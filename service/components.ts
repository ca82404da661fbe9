import type { Factory } from '../kit/component.ts';
import { registerFactory } from '../kit/component.ts';
import type { ExtensionFactory } from '../kit/extension.ts';
import { registerExtension } from '../kit/extension.ts';
import { experimentsExtensionFactory } from '../extensions/experiments/index.ts';
import { csvFactory } from '../exporters/csv/index.ts';
import { influxdbExporterFactory } from '../exporters/influxdb/index.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { prometheusExporterFactory } from '../exporters/prometheus/index.ts';
import { postgresqlExporterFactory } from '../exporters/postgresql/index.ts';
import { prometheusRemoteWriteFactory } from '../exporters/prometheusremotewrite/index.ts';
import { procfsFactory } from '../receivers/procfs/index.ts';
import { cgroupsFactory } from '../receivers/cgroups/index.ts';
import { processFactory } from '../receivers/process/index.ts';
import { ipmiFactory } from '../receivers/ipmi/index.ts';
import { kwollectFactory } from '../receivers/kwollect/index.ts';
import { libvirtFactory } from '../receivers/libvirt/index.ts';
import { kubevirtFactory } from '../receivers/kubevirt/index.ts';
import { kubevirtLogsFactory } from '../receivers/kubevirt_logs/index.ts';
import { prometheusReceiverFactory } from '../receivers/prometheus/index.ts';
import { snmpFactory } from '../receivers/snmp/index.ts';
import { wattmetreFactory } from '../receivers/wattmetre/index.ts';
import { batchFactory } from '../processors/batch/index.ts';
import { relabelFactory } from '../processors/relabel/index.ts';
import { resourceFactory } from '../processors/resource/index.ts';

/**
 * Every component inframeter knows, listed explicitly. Adding a component is adding its
 * folder and one line here.
 */
export const factories: readonly Factory[] = [
  // receivers
  registerFactory(procfsFactory),
  registerFactory(cgroupsFactory),
  registerFactory(processFactory),
  registerFactory(snmpFactory),
  registerFactory(ipmiFactory),
  registerFactory(prometheusReceiverFactory),
  registerFactory(kwollectFactory),
  registerFactory(libvirtFactory),
  registerFactory(kubevirtFactory),
  registerFactory(kubevirtLogsFactory),
  registerFactory(wattmetreFactory),
  registerFactory(otlpReceiverFactory),
  // processors
  registerFactory(batchFactory),
  registerFactory(relabelFactory),
  registerFactory(resourceFactory),
  // exporters
  registerFactory(otlpExporterFactory),
  registerFactory(csvFactory),
  registerFactory(prometheusExporterFactory),
  registerFactory(postgresqlExporterFactory),
  registerFactory(influxdbExporterFactory),
  registerFactory(prometheusRemoteWriteFactory),
];

/** Every extension inframeter knows (`extensions:`, enabled by `service.extensions`). */
export const extensionFactories: readonly ExtensionFactory[] = [
  registerExtension(experimentsExtensionFactory),
];
