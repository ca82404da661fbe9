import { z } from 'zod';
import { duration } from '../../kit/config-types.ts';
import { byteSize } from '../../kit/delivery/config.ts';

/** Label of KubeVirt's node daemon pods. */
export const HANDLER_SELECTOR = 'kubevirt.io=virt-handler';

const handlerSchema = z.strictObject({
  /** Collect the node's `virt-handler` log too. */
  enabled: z.boolean().default(true),
  /** Namespace KubeVirt is installed in. */
  namespace: z.string().min(1).default('kubevirt'),
  /** Label selector of the virt-handler pods (the one on this node is taken). */
  label_selector: z.string().min(1).default(HANDLER_SELECTOR),
  /** Its container. */
  container: z.string().min(1).default('virt-handler'),
});

const filesSchema = z.strictObject({
  /** Write `<namespace>/<vmi>/virt-launcher.log`, `virt-handler.log`… under `directory`. */
  enabled: z.boolean().default(true),
  /** A file reaching this size is rotated (`.1`, `.2`, …). */
  max_file_size: byteSize().prefault('50MiB'),
  /** Files kept per log, the one being written included (1: no rotated file is kept). */
  max_files: z.number().int().min(1).max(1000).default(5),
});

/** The `kubevirt_logs` receiver's settings. */
export const configSchema = z
  .strictObject({
    /** `service_account`: in-cluster credentials; `kubeconfig`: the file named by `kubeconfig`. */
    auth_type: z.enum(['service_account', 'kubeconfig']).default('service_account'),
    kubeconfig: z.string().min(1).optional(),
    /** This node's name (`spec.nodeName`), from the downward API: `${env:K8S_NODE_NAME}`. */
    node_name: z.string().min(1),
    /** Namespaces of the VMIs whose logs are collected; empty: all. */
    namespaces: z.array(z.string().min(1)).default([]),
    /** How often the logs are fetched (each fetch from the last line seen). */
    interval: duration().prefault('1h'),
    /** Delay before the first fetch. */
    initial_delay: duration().prefault('0s'),
    /** Time limit of one log request. */
    timeout: duration().prefault('60s'),
    /** Bytes asked for per request (`limitBytes`); more is fetched by further requests. */
    max_bytes_per_request: byteSize().prefault('8MiB'),
    /** Requests per container log and interval, at most (a very chatty log catches up over several). */
    max_requests_per_interval: z.number().int().min(1).default(16),
    /** virt-launcher containers collected; empty: every container of the pod. */
    containers: z.array(z.string().min(1)).default([]),
    virt_handler: handlerSchema.prefault({}),
    /** Data directory: the per-VM files and the state file that lets a restart resume. */
    directory: z.string().min(1),
    files: filesSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.auth_type === 'kubeconfig' && config.kubeconfig === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['kubeconfig'],
        message: 'required when auth_type is kubeconfig',
      });
    if (config.auth_type === 'service_account' && config.kubeconfig !== undefined)
      ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'only used with auth_type: kubeconfig' });
    if (config.interval < 1000)
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'must be at least 1s' });
    if (config.timeout >= config.interval)
      ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'must be shorter than interval' });
    if (config.files.max_file_size < 1024)
      ctx.addIssue({ code: 'custom', path: ['files', 'max_file_size'], message: 'must be at least 1KiB' });
  });

/** The parsed config. */
export type KubevirtLogsConfig = z.output<typeof configSchema>;
