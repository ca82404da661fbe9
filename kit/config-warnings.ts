/**
 * Warnings about a component's configuration that do not stop it from loading: a
 * deprecated spelling that is still accepted and translated. Zod has no channel for them (an
 * issue fails the parse), so a schema's preprocessing step records them against the raw
 * value it was given, and the config loader takes them from there after parsing that value,
 * prefixing each path with the component's (`receivers.procfs.metrics.disk`) and reporting
 * them at start.
 *
 * The records are held weakly by the raw value: nothing is kept once the loader (or a test)
 * drops it, and parsing two configurations never mixes their warnings.
 */

/** One warning: its path under the component's config and what to write instead. */
export interface ConfigWarning {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const recorded = new WeakMap<object, ConfigWarning[]>();

/** Records a warning about `raw`, the value a component's config schema was given. */
export function recordConfigWarning(raw: object, warning: ConfigWarning): void {
  const list = recorded.get(raw) ?? [];
  // The same value parsed twice (validate, then run) warns once.
  if (!list.some((w) => w.message === warning.message && w.path.join('.') === warning.path.join('.')))
    list.push(warning);
  recorded.set(raw, list);
}

/** The warnings recorded while parsing `raw`, removed from the record. */
export function takeConfigWarnings(raw: unknown): readonly ConfigWarning[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const list = recorded.get(raw) ?? [];
  recorded.delete(raw);
  return list;
}
