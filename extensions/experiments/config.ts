import { z } from 'zod';
import type { HostPort, Secret } from '../../kit/config-types.ts';
import { hostPort, secret } from '../../kit/config-types.ts';

/**
 * `proxy_discovery.kubernetes`: the Running pods of one namespace that match a label selector,
 * watched through the Kubernetes API (as Prometheus' `kubernetes_sd_configs` with `role: pod`
 * finds scrape targets), are reachable on `/proxy/POD_IP:PORT/…` and `/proxy/POD_NAME:PORT/…`
 * at `port`, and only there.
 */
const kubernetesDiscoverySchema = z
  .strictObject({
    /** The namespace of the collectors' pods (the agents' namespace). */
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a namespace name'),
    /** Label selector of the collectors' pods, as `kubectl -l` takes it, e.g. `app.kubernetes.io/component=agent`. */
    label_selector: z
      .string()
      .trim()
      .min(1, 'required: an empty selector would admit every pod of the namespace'),
    /** The control API port in those pods: no other port of theirs is reached. */
    port: z.number().int().min(1).max(65_535).default(9470),
    /** `service_account`: in-cluster credentials; `kubeconfig`: the file named by `kubeconfig`. */
    auth_type: z.enum(['service_account', 'kubeconfig']).default('service_account'),
    kubeconfig: z.string().min(1).optional(),
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
  });

export interface KubernetesDiscoveryConfig {
  namespace: string;
  label_selector: string;
  port: number;
  auth_type: 'service_account' | 'kubeconfig';
  kubeconfig?: string | undefined;
}

/** The `experiments` extension: the control API researchers drive collection with. */
export const experimentsConfigSchema = z.strictObject({
  /** `host:port` of the control API. */
  endpoint: hostPort().prefault('127.0.0.1:9470'),
  /** Clients must send `Authorization: Bearer <token>`; use `${env:VAR}`. */
  bearer_token: secret(),
  /** Where each experiment's CSV and its description are kept until deleted. */
  directory: z.string().min(1).default('./experiments'),
  /**
   * Collectors (`host:port`) this one forwards control requests to on `/proxy/HOST:PORT/…`,
   * bearer token included; no other target is reached. Empty: no proxying.
   */
  proxy_targets: z
    .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port such as "node-1:9470"'))
    .default([]),
  /** Collectors `/proxy/…` may also reach, found through an API (the Kubernetes pods of the agents). */
  proxy_discovery: z
    .strictObject({
      kubernetes: kubernetesDiscoverySchema.optional(),
    })
    .prefault({}),
});

export interface ExperimentsConfig {
  endpoint: HostPort;
  bearer_token: Secret;
  directory: string;
  proxy_targets: string[];
  proxy_discovery: { kubernetes?: KubernetesDiscoveryConfig | undefined };
}

/**
 * Experiment names become file names and URL segments: letters, digits, `.`, `_` and `-`,
 * starting with a letter or digit, at most 100 characters. `..`, `/` and the like never pass.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && !name.includes('..');
}

/** Label keys and values an experiment adds to every point. */
export const labelsSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'label names are letters, digits, _ and .'),
  z.string().max(200),
);

/** The body of `POST /experiments/{name}/start` (all optional). */
export const startRequestSchema = z.strictObject({
  labels: labelsSchema.default({}),
  /** Collection interval of the selected receivers while the experiment runs, e.g. `1s`. */
  interval: z.string().optional(),
  /** Receiver ids whose data go into the experiment's CSV; every receiver when absent. */
  receivers: z.array(z.string().min(1)).min(1).optional(),
});
export type StartRequest = z.infer<typeof startRequestSchema>;
