import type { Writable } from 'node:stream';
import { z } from 'zod';
import type { Factory } from '../../kit/component.ts';
import { signalsOf } from '../../kit/component.ts';
import type { ExtensionFactory } from '../../kit/extension.ts';
import { extensionFactories, factories } from '../components.ts';

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  default?: unknown;
  description?: string;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
}

function describeType(node: JsonSchemaNode): string {
  if (node.enum !== undefined) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (node.anyOf !== undefined) return node.anyOf.map(describeType).join(' | ');
  if (Array.isArray(node.type)) return node.type.join(' | ');
  if (node.type === 'array' && node.items !== undefined) return `list of ${describeType(node.items)}`;
  return node.type ?? 'any';
}

/** The config keys of one factory, one line each: key, type, default or "required". */
export function describeConfig(factory: Factory | ExtensionFactory): string[] {
  const schema = z.toJSONSchema(factory.configSchema, {
    unrepresentable: 'any',
    io: 'input',
  }) as JsonSchemaNode;
  const lines: string[] = [];
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    const required = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      let detail: string;
      if (child.default !== undefined) detail = `default ${JSON.stringify(child.default)}`;
      else detail = required.has(key) ? 'required' : 'optional';
      lines.push(`    ${name}: ${describeType(child)} (${detail})`);
      if (child.properties !== undefined) walk(child, name);
    }
  };
  walk(schema, '');
  return lines;
}

/** `inframeter components`: every component and extension type with its config keys and defaults. */
export function listComponentsCommand(out: Writable): void {
  const lines: string[] = [];
  for (const kind of ['receiver', 'processor', 'exporter'] as const) {
    lines.push(`${kind}s:`);
    for (const factory of factories.filter((f) => f.kind === kind)) {
      const signals = signalsOf(factory).join(', ');
      lines.push(`  ${factory.type} (${factory.stability}; ${signals}): ${factory.description}`);
      lines.push(...describeConfig(factory));
    }
  }
  lines.push('extensions:');
  for (const factory of extensionFactories) {
    lines.push(`  ${factory.type} (${factory.stability}): ${factory.description}`);
    lines.push(...describeConfig(factory));
  }
  out.write(`${lines.join('\n')}\n`);
}
