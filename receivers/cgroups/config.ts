import { z } from 'zod';
import { scraperOptions } from '../../kit/config-types.ts';
import {
  enabledMetricNames,
  groupSwitchesSchema,
  groupSwitchSchema,
  metricSwitchesSchema,
  migrateGroupSwitches,
} from '../../kit/metric-switches.ts';
import type { CgroupGlob } from './glob.ts';
import { globToRegExp } from './glob.ts';
import { metadata } from './metadata.ts';

/** Container runtimes the path rules recognise (the values of `container.runtime.name`). */
export const RUNTIMES = ['docker', 'containerd', 'cri-o', 'podman'] as const;

/** Cgroup kinds (the values of `inframeter.cgroups.kind`). */
export const KINDS = [
  'root',
  'kubepods',
  'qos',
  'pod',
  'container',
  'job',
  'step',
  'task',
  'slice',
  'service',
  'scope',
  'other',
] as const;

/** Metric groups that can be switched on or off as a whole. */
export const METRIC_GROUPS = ['cpu', 'memory', 'disk', 'pids', 'pressure', 'network', 'cgroups'] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

function cgroupGlob(): z.ZodType<CgroupGlob, string> {
  return z.string().transform((glob, ctx) => {
    if (!glob.startsWith('/')) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a cgroup path glob starting with "/", got ${JSON.stringify(glob)}`,
      });
      return z.NEVER;
    }
    return { glob, regex: globToRegExp(glob) };
  });
}

const groupsSchema = groupSwitchesSchema(
  Object.fromEntries(METRIC_GROUPS.map((g) => [g, groupSwitchSchema({}).optional()])) as Record<
    MetricGroup,
    z.ZodOptional<ReturnType<typeof groupSwitchSchema>>
  >,
);

/**
 * The `cgroups` receiver's configuration. The group switches were once booleans under
 * `metrics:` (`metrics: { disk: false }`): still read, with a warning, for one release.
 */
export const configSchema = z.preprocess(
  (raw, ctx) => migrateGroupSwitches(raw, METRIC_GROUPS, 'boolean', ctx),
  z
    .strictObject({
      ...scraperOptions,
      /** Where the host's root is mounted: files are read at `${root_path}/sys/fs/cgroup/…`, `${root_path}/proc/…`. */
      root_path: z
        .string()
        .default('/')
        .refine((p) => p.startsWith('/'), { message: 'must be an absolute path' }),
      /** `auto` reads the mount table; `v1`, `v2` or `hybrid` force a layout under ${root_path}/sys/fs/cgroup. */
      layout: z.enum(['auto', 'v1', 'v2', 'hybrid']).default('auto'),
      /** Cgroup path globs to report; a cgroup must match one. */
      include: z.array(cgroupGlob()).prefault(['/**']),
      /** Cgroup path globs never to report. */
      exclude: z.array(cgroupGlob()).prefault([]),
      /** Deepest level walked: 0 is the root cgroup, 1 its children, … */
      max_depth: z.number().int().min(0).default(10),
      /** At most this many cgroups are reported per scrape, in path order; the rest are counted. */
      max_cgroups: z.number().int().min(1).default(1000),
      /** Report only containers of these runtimes (empty: no filter on runtime). */
      runtimes: z.array(z.enum(RUNTIMES)).default([]),
      /** Report only cgroups of these kinds (empty: every kind). */
      kinds: z.array(z.enum(KINDS)).default([]),
      /** A switch per metric: `inframeter.cgroups.memory.lru: { enabled: true }`; wins over its group's. */
      metrics: metricSwitchesSchema(metadata.metrics.map((m) => m.name)),
      /** A switch per metric group: `disk: { enabled: false }`; unset: each metric's default. */
      groups: groupsSchema,
      /** Pod name, namespace and container name from the Kubernetes API (a watch on this node's pods). */
      kubernetes: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** The node whose pods are watched (`spec.nodeName`); usually `${env:K8S_NODE_NAME}`. */
          node_name: z.string().optional(),
          /** `service_account`: in-cluster credentials; `kubeconfig`: the file named by `kubeconfig`. */
          auth_type: z.enum(['service_account', 'kubeconfig']).default('service_account'),
          kubeconfig: z.string().optional(),
        })
        .prefault({}),
    })
    .superRefine((config, ctx) => {
      if (config.timeout !== undefined && config.timeout >= config.collection_interval) {
        ctx.addIssue({
          code: 'custom',
          path: ['timeout'],
          message: 'must be shorter than collection_interval',
        });
      }
      const k8s = config.kubernetes;
      if (k8s.enabled && (k8s.node_name === undefined || k8s.node_name === '')) {
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', 'node_name'],
          message:
            'required when kubernetes.enabled is true (set it from the downward API: "${env:K8S_NODE_NAME}")',
        });
      }
      if (k8s.auth_type === 'kubeconfig' && (k8s.kubeconfig === undefined || k8s.kubeconfig === '')) {
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', 'kubeconfig'],
          message: 'required when auth_type is kubeconfig',
        });
      }
    })
    .transform(({ metrics, groups, ...rest }) => ({
      ...rest,
      /** The metrics to emit. */
      metrics: enabledMetricNames(metadata.metrics, metrics, groups),
    })),
);

/** The validated configuration, defaults filled. */
export type Config = z.output<typeof configSchema>;
