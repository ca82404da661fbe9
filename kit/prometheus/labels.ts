import type { Attributes } from '@opentelemetry/api';
import { toLabelName } from './naming.ts';

/**
 * OpenTelemetry attributes → Prometheus labels, and a resource → the `job` and `instance`
 * labels that tell targets apart (OpenTelemetry specification, compatibility/
 * prometheus_and_openmetrics.md, "Metric Attributes" and "Resource Attributes"). Pure.
 */

/** Labels by name; an empty value is left out (Prometheus treats it as absent). */
export type Labels = Map<string, string>;

/**
 * An attribute value as a label value, as the OpenTelemetry attribute specification turns
 * values into strings: strings as they are, numbers and booleans as text, byte arrays in
 * base64, arrays and maps as JSON; nothing for null or undefined.
 */
export function toLabelValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      try {
        return JSON.stringify(value, (_key, item: unknown) =>
          typeof item === 'bigint' ? String(item) : item,
        );
      } catch {
        // A value JSON cannot represent (a cycle) still gets a label value.
        return '[unserializable]';
      }
    default:
      return '';
  }
}

/**
 * Attributes as labels. Keys are sanitized ({@link toLabelName}); keys that end up with the
 * same label name have their values joined with `;`, ordered by the original keys.
 */
export function attributesToLabels(attributes: Attributes, exclude: ReadonlySet<string> = new Set()): Labels {
  const byLabel = new Map<string, [string, string][]>();
  for (const [key, value] of Object.entries(attributes)) {
    if (exclude.has(key)) continue;
    const text = toLabelValue(value);
    if (text === '') continue;
    const name = toLabelName(key);
    if (name === '') continue;
    const list = byLabel.get(name);
    if (list === undefined) byLabel.set(name, [[key, text]]);
    else list.push([key, text]);
  }
  const labels: Labels = new Map();
  for (const [name, list] of byLabel) {
    if (list.length === 1) labels.set(name, list[0]?.[1] ?? '');
    else
      labels.set(
        name,
        list
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([, text]) => text)
          .join(';'),
      );
  }
  return labels;
}

/** Resource attributes that make up `job` and `instance` rather than `target_info` labels. */
export const IDENTITY_ATTRIBUTES: ReadonlySet<string> = new Set([
  'service.name',
  'service.namespace',
  'service.instance.id',
]);

/**
 * `job` and `instance` for a resource: `job` is `service.namespace/service.name` (or
 * `service.name` alone); `instance` is `service.instance.id`, or `host.name` when the resource
 * has no instance id. A label whose source is missing is left out.
 */
export function targetIdentity(attributes: Attributes): Labels {
  const labels: Labels = new Map();
  const name = toLabelValue(attributes['service.name']);
  const namespace = toLabelValue(attributes['service.namespace']);
  if (name !== '') labels.set('job', namespace === '' ? name : `${namespace}/${name}`);
  const instance = toLabelValue(attributes['service.instance.id']);
  const host = toLabelValue(attributes['host.name']);
  if (instance !== '') labels.set('instance', instance);
  else if (host !== '') labels.set('instance', host);
  return labels;
}

/** Labels in name order as `a="x",b="y"`, values escaped for both exposition formats. */
export function formatLabels(labels: Labels): string {
  // Label names are ASCII, so the default (code unit) sort is the byte order Prometheus uses.
  const names = [...labels.keys()].sort();
  let out = '';
  for (const name of names) {
    out += `${out === '' ? '' : ','}${name}="${escapeLabelValue(labels.get(name) ?? '')}"`;
  }
  return out;
}

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value with `\`, `"` and line feeds escaped. */
export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
