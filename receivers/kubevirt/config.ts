import { z } from 'zod';
import { duration, scraperOptions } from '../../kit/config-types.ts';
import { enabledMetricNames, metricSwitchesSchema } from '../../kit/metric-switches.ts';
import { metadata } from './metadata.ts';

/** Placeholders a libvirt socket or URI template may use. */
export const TEMPLATE_FIELDS = [
  'root_path',
  'pod_uid',
  'namespace',
  'vmi_name',
  'qemu_pid',
  'socket',
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

/**
 * Where virt-launcher's libvirt daemon listens, seen from the host: the launcher pod's
 * `libvirt-runtime` emptyDir (mounted at `/var/run/libvirt` in the `compute` container, where
 * virtqemud creates `virtqemud-sock`) under the kubelet's pod volume directory.
 */
export const DEFAULT_SOCKET =
  '{root_path}/var/lib/kubelet/pods/{pod_uid}/volumes/kubernetes.io~empty-dir/libvirt-runtime/virtqemud-sock';
/** virt-launcher runs virtqemud in session mode for non-root VMs (KubeVirt's default since 1.0). */
export const DEFAULT_URI = 'qemu+unix:///session?socket={socket}';

function template(allowed: readonly TemplateField[]): z.ZodString {
  return z.string().superRefine((text, ctx) => {
    for (const match of text.matchAll(/\{([^}]*)\}/g)) {
      const name = match[1] ?? '';
      if (!(allowed as readonly string[]).includes(name))
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {${name}}: expected one of ${allowed.map((f) => `{${f}}`).join(', ')}`,
        });
    }
  });
}

/** The `kubevirt` receiver's configuration. */
export const configSchema = z
  .strictObject({
    ...scraperOptions,
    collection_interval: duration().default(5_000),
    /** The node whose VMs are reported; from the downward API: `${env:K8S_NODE_NAME}`. */
    node_name: z
      .string({
        error: (issue) =>
          issue.input === undefined
            ? 'required: the node whose VMs are reported (from the downward API: "${env:K8S_NODE_NAME}")'
            : 'expected a string',
      })
      .min(1, { message: 'must not be empty' }),
    /** Namespaces whose VMs are watched; empty: all namespaces. */
    namespaces: z.array(z.string().min(1)).default([]),
    /** `service_account`: in-cluster credentials; `kubeconfig`: the file named by `kubeconfig`. */
    auth_type: z.enum(['service_account', 'kubeconfig']).default('service_account'),
    kubeconfig: z.string().optional(),
    /** Where the host's root is mounted: `${root_path}/proc`, `${root_path}/sys/fs/cgroup`. */
    root_path: z
      .string()
      .default('/')
      .refine((p) => p.startsWith('/'), { message: 'must be an absolute path' }),
    /** cgroup layout under `${root_path}/sys/fs/cgroup`: `auto` reads the mount table. */
    cgroup_layout: z.enum(['auto', 'v1', 'v2', 'hybrid']).default('auto'),
    /** Command names (`/proc/<pid>/stat` comm) of a VM's QEMU process, matched as prefixes. */
    qemu_commands: z.array(z.string().min(1)).min(1).default(['qemu-kvm', 'qemu-system-']),
    /** Domain statistics through the libvirt daemon inside each launcher pod. */
    libvirt: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The daemon's socket as the agent sees it. */
        socket: template(['root_path', 'pod_uid', 'namespace', 'vmi_name', 'qemu_pid']).default(
          DEFAULT_SOCKET,
        ),
        /** The connection URI (opened read-only); `{socket}` is the path above. */
        uri: template(TEMPLATE_FIELDS).default(DEFAULT_URI),
        /** First wait before retrying a VM whose daemon could not be reached, doubled up to max_retry_delay. */
        retry_delay: duration().prefault('5s'),
        /** Longest wait for a daemon's answer (open and statistics); then it is unreachable for this scrape. */
        timeout: duration().prefault('2s'),
        max_retry_delay: duration().prefault('60s'),
      })
      .prefault({}),
    /** A switch per metric: `kubevirt.vm.network.io: { enabled: false }`. */
    metrics: metricSwitchesSchema(metadata.metrics.map((m) => m.name)),
  })
  .superRefine((config, ctx) => {
    if (config.timeout !== undefined && config.timeout >= config.collection_interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: 'must be shorter than collection_interval',
      });
    }
    if (config.auth_type === 'kubeconfig' && (config.kubeconfig === undefined || config.kubeconfig === '')) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubeconfig'],
        message: 'required when auth_type is kubeconfig',
      });
    }
    const scrapeTime = config.timeout ?? config.collection_interval;
    if (config.libvirt.enabled && config.libvirt.timeout >= scrapeTime) {
      ctx.addIssue({
        code: 'custom',
        path: ['libvirt', 'timeout'],
        message: `must be shorter than the scrape's time limit (${config.timeout === undefined ? 'collection_interval' : 'timeout'})`,
      });
    }
    if (config.libvirt.max_retry_delay < config.libvirt.retry_delay) {
      ctx.addIssue({
        code: 'custom',
        path: ['libvirt', 'max_retry_delay'],
        message: 'must not be shorter than libvirt.retry_delay',
      });
    }
  })
  .transform(({ metrics, ...rest }) => ({
    ...rest,
    /** The metrics to emit (those read through libvirt only when libvirt.enabled). */
    metrics: enabledMetricNames(metadata.metrics, metrics),
  }));

/** The validated configuration, defaults filled. */
export type Config = z.output<typeof configSchema>;

/** Fills a socket or URI template; the same placeholder may appear several times. */
export function fillTemplate(text: string, values: Readonly<Partial<Record<TemplateField, string>>>): string {
  return text.replace(/\{([a-z_]+)\}/g, (whole, name: string) => values[name as TemplateField] ?? whole);
}
