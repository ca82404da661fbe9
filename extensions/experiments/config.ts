import { z } from 'zod';
import type { HostPort, Secret } from '../../kit/config-types.ts';
import { hostPort, secret } from '../../kit/config-types.ts';

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
});

export interface ExperimentsConfig {
  endpoint: HostPort;
  bearer_token: Secret;
  directory: string;
  proxy_targets: string[];
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
