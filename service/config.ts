import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type {
  ComponentKind,
  ExporterFactory,
  Factory,
  ProcessorFactory,
  ReceiverFactory,
  Signal,
} from '../kit/component.ts';
import { signalsOf } from '../kit/component.ts';
import type { ExtensionFactory } from '../kit/extension.ts';
import { formatPath, substituteEnv } from './config-env.ts';
import type { ConfigPath } from './config-env.ts';
import { parseHostPort } from '../kit/config-types.ts';
import type { HostPort } from '../kit/config-types.ts';
import { takeConfigWarnings } from '../kit/config-warnings.ts';
import { ConfigError, errorCode, toError } from '../kit/errors.ts';
import { LOG_LEVELS } from '../kit/logger.ts';
import type { LogLevel } from '../kit/logger.ts';
import { expansionProblems, MAX_CONFIG_BYTES } from './yaml-bounds.ts';

/**
 * Loading and validating the YAML configuration, in the OpenTelemetry Collector's shape:
 * `receivers`, `processors`, `exporters` and `service.pipelines`. Everything is checked
 * before anything starts, and every problem is reported at once with its YAML path.
 */

/** A configured component: its id (`type` or `type/name`), factory and parsed config. */
export interface ComponentConfig<F extends Factory = Factory> {
  readonly id: string;
  readonly factory: F;
  readonly config: unknown;
}

/** One pipeline: receivers fan in, processors run in order, exporters fan out. */
export interface PipelineConfig {
  readonly id: string;
  /** What the pipeline carries: `metrics` for `metrics` and `metrics/NAME`, `logs` for `logs…`. */
  readonly signal: Signal;
  readonly receivers: readonly string[];
  readonly processors: readonly string[];
  readonly exporters: readonly string[];
}

/** The collector's own telemetry: log level and the internal metrics endpoint. */
export interface TelemetryConfig {
  readonly logLevel: LogLevel;
  /** Where `/metrics`, `/healthz` and `/readyz` are served; undefined: not served. */
  readonly metricsAddress: HostPort | undefined;
  /** Resource attributes added to everything the collector emits. */
  readonly resource: Readonly<Record<string, string>>;
}

/** A validated configuration, ready to build a service from. */
export interface CollectorConfig {
  readonly receivers: ReadonlyMap<string, ComponentConfig<ReceiverFactory>>;
  readonly processors: ReadonlyMap<string, ComponentConfig<ProcessorFactory>>;
  readonly exporters: ReadonlyMap<string, ComponentConfig<ExporterFactory>>;
  readonly pipelines: readonly PipelineConfig[];
  readonly telemetry: TelemetryConfig;
  /** Extensions enabled in `service.extensions`, in that order, with their settings. */
  readonly extensions: ReadonlyMap<string, ExtensionConfig>;
  /**
   * `path: message` lines about settings that were accepted but should be written another
   * way (a deprecated spelling), to be logged at start; see kit/config-warnings.ts.
   */
  readonly warnings: readonly string[];
}

/** An enabled extension: its id (`type` or `type/name`), factory and parsed config. */
export interface ExtensionConfig {
  readonly id: string;
  readonly factory: ExtensionFactory;
  readonly config: unknown;
}

/**
 * The `extensions:` section, checked against the registry: every extension defined must be
 * known and enabled in `service.extensions`, and every one enabled defined. Returns the
 * enabled ones, in `service.extensions` order.
 */
function parseExtensions(
  raw: unknown,
  enabled: unknown,
  factories: ReadonlyMap<string, ExtensionFactory>,
  knownTypes: readonly string[] | undefined,
  problems: string[],
): Map<string, ExtensionConfig> {
  const out = new Map<string, ExtensionConfig>();
  const defined = isRecord(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isRecord(raw))
    problems.push('extensions: expected a map of extension ids to their settings');
  const factoryOf = (id: string): ExtensionFactory | undefined => {
    const type = ID_PATTERN.exec(id)?.[1];
    return type === undefined ? undefined : factories.get(type);
  };
  const known = [...(knownTypes ?? factories.keys())].join(', ');
  for (const id of Object.keys(defined)) {
    if (factoryOf(id) === undefined) problems.push(`extensions.${id}: unknown extension; known: ${known}`);
  }
  const list = enabled ?? [];
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    problems.push('service.extensions: expected a list of extension ids');
    return out;
  }
  const ids = list as string[];
  ids.forEach((id, i) => {
    if (!(id in defined))
      problems.push(`service.extensions[${String(i)}]: "${id}" is not defined under extensions`);
  });
  for (const id of Object.keys(defined)) {
    if (!ids.includes(id) && factoryOf(id) !== undefined) {
      problems.push(`extensions.${id}: defined but not enabled (add it to service.extensions or remove it)`);
    }
  }
  for (const id of ids) {
    const factory = factoryOf(id);
    if (factory === undefined || !(id in defined) || out.has(id)) continue;
    const parsed = factory.configSchema.safeParse(defined[id] ?? {});
    if (parsed.success) out.set(id, { id, factory, config: parsed.data });
    else problems.push(...zodProblems(parsed.error, ['extensions', id]));
  }
  return out;
}

/** The factories the configuration may name, by kind and type. */
export interface FactoryRegistry {
  readonly receivers: ReadonlyMap<string, ReceiverFactory>;
  readonly processors: ReadonlyMap<string, ProcessorFactory>;
  readonly exporters: ReadonlyMap<string, ExporterFactory>;
  /** Absent: the configuration may enable no extension. */
  readonly extensions?: ReadonlyMap<string, ExtensionFactory>;
  /**
   * Every type the registry knows, by section, for the "known types" of an error; absent: the
   * types of the maps above. A registry loaded for one configuration holds only the factories
   * it names (service/component-registry.ts) but knows every type.
   */
  readonly knownTypes?: Readonly<Record<keyof typeof SECTIONS | 'extensions', readonly string[]>>;
}

/**
 * The component types a configuration names, by section (`receivers`, `processors`,
 * `exporters`, `extensions`): the `type` of every well-formed `type` or `type/name` key.
 * Parsed data that is not a map names none.
 */
export function typesNamed(data: unknown): Record<keyof typeof SECTIONS | 'extensions', Set<string>> {
  const named = {
    receivers: new Set<string>(),
    processors: new Set<string>(),
    exporters: new Set<string>(),
    extensions: new Set<string>(),
  };
  if (!isRecord(data)) return named;
  for (const section of Object.keys(named) as (keyof typeof named)[]) {
    const raw = data[section];
    if (!isRecord(raw)) continue;
    for (const id of Object.keys(raw)) {
      const type = ID_PATTERN.exec(id)?.[1];
      if (type !== undefined) named[section].add(type);
    }
  }
  return named;
}

/** Groups a list of factories (components and extensions) by kind. */
export function createRegistry(factories: readonly (Factory | ExtensionFactory)[]): FactoryRegistry {
  const receivers = new Map<string, ReceiverFactory>();
  const processors = new Map<string, ProcessorFactory>();
  const exporters = new Map<string, ExporterFactory>();
  const extensions = new Map<string, ExtensionFactory>();
  for (const factory of factories) {
    if (factory.kind === 'receiver') receivers.set(factory.type, factory);
    else if (factory.kind === 'processor') processors.set(factory.type, factory);
    else if (factory.kind === 'exporter') exporters.set(factory.type, factory);
    else extensions.set(factory.type, factory);
  }
  return { receivers, processors, exporters, extensions };
}

const SECTIONS = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' } as const;
const TOP_LEVEL_KEYS = new Set(['receivers', 'processors', 'exporters', 'service', 'extensions']);
const ID_PATTERN = /^([a-z][a-z0-9_]*)(?:\/([^\s/]+))?$/;
const PIPELINE_ID_PATTERN = /^(metrics|logs)(?:\/[^\s/]+)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Zod issues as `path: message` lines under a prefix path. */
export function zodProblems(error: z.ZodError, prefix: ConfigPath): string[] {
  return error.issues.map((issue) => {
    const path: (string | number)[] = [...prefix];
    for (const segment of issue.path) path.push(typeof segment === 'number' ? segment : String(segment));
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => `${formatPath([...path, key])}: unknown key (a typo? see \`inframeter components\`)`)
        .join('\n');
    }
    return `${formatPath(path)}: ${issue.message}`;
  });
}

/** Parses YAML text into plain data; syntax errors and duplicate keys become problems with line numbers. */
export function parseYaml(text: string, source: string): { value: unknown; problems: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  // A syntax error cascades into many; the first few locate it.
  const problems = doc.errors.slice(0, 3).map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    const where = `${source}:${pos.line}:${pos.col}`;
    return `${where}: ${e.code === 'DUPLICATE_KEY' ? 'duplicated key' : 'YAML syntax error'}: ${e.message.split('\n')[0] ?? ''}`;
  });
  if (problems.length > 0) return { value: undefined, problems };
  const bounds = expansionProblems(doc, source, (offset) => lineCounter.linePos(offset));
  if (bounds.length > 0) return { value: undefined, problems: bounds };
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), problems };
  } catch (error) {
    // yaml's own guard (too many aliases of one node): a configuration problem, not a crash.
    return { value: undefined, problems: [`${source}: ${toError(error).message}`] };
  }
}

function parseComponents<F extends Factory>(
  section: keyof typeof SECTIONS,
  raw: unknown,
  factories: ReadonlyMap<string, F>,
  knownTypes: readonly string[] | undefined,
  problems: string[],
  warnings: string[],
): Map<string, ComponentConfig<F>> {
  const out = new Map<string, ComponentConfig<F>>();
  if (raw === undefined || raw === null) return out;
  if (!isRecord(raw)) {
    problems.push(`${section}: expected a map of ${SECTIONS[section]} ids to their settings`);
    return out;
  }
  for (const [id, value] of Object.entries(raw)) {
    const match = ID_PATTERN.exec(id);
    if (match === null) {
      problems.push(
        `${section}.${id}: invalid id: expected "type" or "type/name" with a lower_snake_case type`,
      );
      continue;
    }
    const type = match[1] ?? '';
    const factory = factories.get(type);
    if (factory === undefined) {
      const known = [...(knownTypes ?? factories.keys())].sort().join(', ');
      problems.push(
        `${section}.${id}: unknown ${SECTIONS[section]} type "${type}"; known types: ${known || 'none'}`,
      );
      continue;
    }
    const input: unknown = value ?? {};
    const result = factory.configSchema.safeParse(input);
    for (const warning of takeConfigWarnings(input))
      warnings.push(`${formatPath([section, id, ...warning.path])}: ${warning.message}`);
    if (!result.success) {
      problems.push(...zodProblems(result.error, [section, id]));
      continue;
    }
    out.set(id, { id, factory, config: result.data });
  }
  return out;
}

function stringList(value: unknown, path: ConfigPath, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    problems.push(`${formatPath(path)}: expected a list of component ids`);
    return [];
  }
  return value;
}

/** The signals the component an id names supports; undefined when the id names no known type. */
type SignalLookup = (section: keyof typeof SECTIONS, id: string) => readonly Signal[] | undefined;

function parsePipelines(
  raw: unknown,
  defined: Record<keyof typeof SECTIONS, ReadonlySet<string>>,
  signalsOfId: SignalLookup,
  problems: string[],
): PipelineConfig[] {
  const pipelines: PipelineConfig[] = [];
  if (!isRecord(raw) || Object.keys(raw).length === 0) {
    problems.push('service.pipelines: at least one pipeline is required (e.g. service.pipelines.metrics)');
    return pipelines;
  }
  for (const [id, value] of Object.entries(raw)) {
    const base = ['service', 'pipelines', id];
    const signal = PIPELINE_ID_PATTERN.exec(id)?.[1] as Signal | undefined;
    if (signal === undefined) {
      problems.push(
        `${formatPath(base)}: invalid pipeline id: expected "metrics", "metrics/name", "logs" or "logs/name"`,
      );
      continue;
    }
    if (!isRecord(value)) {
      problems.push(`${formatPath(base)}: expected a map with receivers, processors and exporters`);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (!['receivers', 'processors', 'exporters'].includes(key))
        problems.push(`${formatPath([...base, key])}: unknown key`);
    }
    const lists = {} as Record<keyof typeof SECTIONS, string[]>;
    for (const section of Object.keys(SECTIONS) as (keyof typeof SECTIONS)[]) {
      const list = stringList(value[section], [...base, section], problems);
      const seen = new Set<string>();
      list.forEach((ref, i) => {
        const path = formatPath([...base, section, i]);
        if (seen.has(ref)) problems.push(`${path}: "${ref}" is listed twice`);
        seen.add(ref);
        if (!defined[section].has(ref)) {
          problems.push(`${path}: ${SECTIONS[section]} "${ref}" is not defined under ${section}`);
          return;
        }
        const supported = signalsOfId(section, ref);
        if (supported !== undefined && !supported.includes(signal))
          problems.push(
            `${path}: ${SECTIONS[section]} "${ref}" does not support ${signal} (it supports ${supported.join(', ')})`,
          );
      });
      lists[section] = list;
    }
    if (lists.receivers.length === 0)
      problems.push(`${formatPath([...base, 'receivers'])}: at least one receiver is required`);
    if (lists.exporters.length === 0)
      problems.push(`${formatPath([...base, 'exporters'])}: at least one exporter is required`);
    pipelines.push({ id, signal, ...lists });
  }
  return pipelines;
}

function parseTelemetry(raw: unknown, problems: string[]): TelemetryConfig {
  const telemetry: {
    logLevel: LogLevel;
    metricsAddress: HostPort | undefined;
    resource: Record<string, string>;
  } = {
    logLevel: 'info',
    metricsAddress: undefined,
    resource: {},
  };
  if (raw === undefined || raw === null) return telemetry;
  const base = ['service', 'telemetry'];
  if (!isRecord(raw)) {
    problems.push('service.telemetry: expected a map');
    return telemetry;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'logs') {
      const level = isRecord(value) ? value.level : undefined;
      const extra = isRecord(value) ? Object.keys(value).filter((k) => k !== 'level') : [];
      extra.forEach((k) => problems.push(`${formatPath([...base, 'logs', k])}: unknown key`));
      if (level === undefined) continue;
      if (typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level))
        telemetry.logLevel = level as LogLevel;
      else problems.push(`service.telemetry.logs.level: expected one of ${LOG_LEVELS.join(', ')}`);
    } else if (key === 'metrics') {
      const address = isRecord(value) ? value.address : undefined;
      const extra = isRecord(value) ? Object.keys(value).filter((k) => k !== 'address') : [];
      extra.forEach((k) => problems.push(`${formatPath([...base, 'metrics', k])}: unknown key`));
      if (address === undefined || address === null || address === '') continue;
      const parsed = typeof address === 'string' ? parseHostPort(address) : undefined;
      if (parsed === undefined)
        problems.push('service.telemetry.metrics.address: expected host:port such as "127.0.0.1:8888"');
      else telemetry.metricsAddress = parsed;
    } else if (key === 'resource') {
      if (!isRecord(value)) {
        problems.push('service.telemetry.resource: expected a map of attribute names to string values');
        continue;
      }
      for (const [attr, v] of Object.entries(value)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
          telemetry.resource[attr] = String(v);
        else problems.push(`${formatPath([...base, 'resource', attr])}: expected a string`);
      }
    } else {
      problems.push(`${formatPath([...base, key])}: unknown key`);
    }
  }
  return telemetry;
}

/**
 * Validates parsed configuration data against the registry. Throws one {@link ConfigError}
 * listing every problem, each with its YAML path.
 */
export function buildConfig(
  data: unknown,
  registry: FactoryRegistry,
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  if (!isRecord(data))
    throw new ConfigError(['(root): expected a map with receivers, exporters and service']);
  const envProblems: string[] = [];
  const substituted = substituteEnv(data, env, envProblems) as Record<string, unknown>;
  // A value whose variable is unset is reported once, not again as a wrong value.
  const unsetPaths = envProblems.map((p) => p.slice(0, p.indexOf(': ')));
  const problems: string[] = [];
  for (const key of Object.keys(substituted)) {
    if (!TOP_LEVEL_KEYS.has(key))
      problems.push(`${key}: unknown top-level key; expected receivers, processors, exporters or service`);
  }
  const warnings: string[] = [];
  const receivers = parseComponents(
    'receivers',
    substituted.receivers,
    registry.receivers,
    registry.knownTypes?.receivers,
    problems,
    warnings,
  );
  const processors = parseComponents(
    'processors',
    substituted.processors,
    registry.processors,
    registry.knownTypes?.processors,
    problems,
    warnings,
  );
  const exporters = parseComponents(
    'exporters',
    substituted.exporters,
    registry.exporters,
    registry.knownTypes?.exporters,
    problems,
    warnings,
  );
  const definedIds = (section: keyof typeof SECTIONS): Set<string> =>
    new Set(isRecord(substituted[section]) ? Object.keys(substituted[section]) : []);
  const defined = {
    receivers: definedIds('receivers'),
    processors: definedIds('processors'),
    exporters: definedIds('exporters'),
  };

  const service = substituted.service;
  let pipelines: PipelineConfig[] = [];
  let telemetry: TelemetryConfig = { logLevel: 'info', metricsAddress: undefined, resource: {} };
  let extensions = new Map<string, ExtensionConfig>();
  if (!isRecord(service)) {
    problems.push('service: required, with service.pipelines');
  } else {
    for (const key of Object.keys(service)) {
      if (key !== 'pipelines' && key !== 'telemetry' && key !== 'extensions')
        problems.push(`service.${key}: unknown key; expected pipelines, telemetry or extensions`);
    }
    const registries = {
      receivers: registry.receivers,
      processors: registry.processors,
      exporters: registry.exporters,
    } as const;
    const signalsOfId: SignalLookup = (section, ref) => {
      const type = ID_PATTERN.exec(ref)?.[1];
      const factory = type === undefined ? undefined : registries[section].get(type);
      return factory === undefined ? undefined : signalsOf(factory);
    };
    pipelines = parsePipelines(service.pipelines, defined, signalsOfId, problems);
    telemetry = parseTelemetry(service.telemetry, problems);
    extensions = parseExtensions(
      substituted.extensions,
      service.extensions,
      registry.extensions ?? new Map(),
      registry.knownTypes?.extensions,
      problems,
    );
  }
  for (const section of Object.keys(SECTIONS) as (keyof typeof SECTIONS)[]) {
    for (const id of defined[section]) {
      if (section === 'receivers' && receivers.get(id)?.factory.standalone === true) continue;
      if (!pipelines.some((p) => p[section].includes(id))) {
        problems.push(
          `${section}.${id}: defined but not used in any pipeline (add it to service.pipelines or remove it)`,
        );
      }
    }
  }
  const all = [
    ...envProblems,
    ...problems.filter((p) => !unsetPaths.some((path) => p.startsWith(`${path}:`))),
  ];
  if (all.length > 0) throw new ConfigError(all);
  return { receivers, processors, exporters, pipelines, telemetry, extensions, warnings };
}

/** Reads, parses and validates a config file. */
export function loadConfigFile(
  path: string,
  registry: FactoryRegistry,
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  return buildConfig(readConfigFile(path), registry, env);
}

/** Reads and parses a config file into plain data (not yet validated). */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    const bytes = statSync(path).size;
    if (bytes > MAX_CONFIG_BYTES)
      throw new ConfigError([
        `${path}: the configuration file is ${String(bytes)} bytes, more than ${String(MAX_CONFIG_BYTES)}`,
      ]);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = errorCode(error);
    throw new ConfigError([`${path}: cannot read the configuration file (${code ?? String(error)})`], {
      cause: error,
    });
  }
  return parseConfigText(text, path);
}

/** Parses and validates configuration text. */
export function loadConfigText(
  text: string,
  source: string,
  registry: FactoryRegistry,
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  return buildConfig(parseConfigText(text, source), registry, env);
}

/** Parses configuration text into plain data (not yet validated); YAML problems throw. */
export function parseConfigText(text: string, source: string): unknown {
  const { value, problems } = parseYaml(text, source);
  if (problems.length > 0) throw new ConfigError(problems);
  return value;
}

/** Kind of the section a component id lives in. */
export function kindOfSection(section: keyof typeof SECTIONS): ComponentKind {
  return SECTIONS[section];
}
