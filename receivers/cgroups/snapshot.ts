import type { Attributes } from '@opentelemetry/api';
import type { AttributeTree } from './attribute-tree.ts';
import type { CgroupLayout } from './parse/mounts.ts';
import type { CgroupStats } from './stats.ts';

/**
 * What one scrape of the cgroups receiver leaves: written by the scraper (scraper.ts), read by
 * its producer (producer.ts) at collection time.
 */

/** A cgroup's identity attributes and values, as the producer observes them. */
export interface CgroupEntry {
  readonly path: string;
  readonly attributes: Attributes;
  /** The attributes with those of each series, kept while the identity attributes are the same. */
  readonly series: AttributeTree;
  readonly stats: CgroupStats;
}

/** What the last scrape saw. */
export interface Snapshot {
  readonly cgroups: readonly CgroupEntry[];
  readonly layout: CgroupLayout | undefined;
  /** Cgroups selected (path, depth, kind and runtime rules) by what became of them. */
  readonly counts: { readonly exported: number; readonly over_limit: number; readonly vanished: number };
}
