import { parse as parseYaml } from 'yaml';
import { ParseError } from '../../../kit/errors.ts';

/**
 * kwollect's wattmetre mapping: YAML, one entry per device, the ports that power it:
 * `node-12: [wattmetre1-port3, wattmetre1-port4]`. Returns the device of each port.
 */
export function parseMapping(text: string, source: string): Map<string, string> {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new ParseError(source, 1, `not YAML: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  const out = new Map<string, string>();
  if (data === null || data === undefined) return out;
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ParseError(source, 1, 'expected a map of device names to lists of ports');
  for (const [device, ports] of Object.entries(data as Record<string, unknown>)) {
    const list = typeof ports === 'string' ? [ports] : ports;
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || !/^.+-port\d+$/.test(p))) {
      throw new ParseError(source, 1, `${device}: expected a list of ports named <wattmetre>-port<N>`);
    }
    for (const port of list as string[]) {
      const previous = out.get(port);
      if (previous !== undefined && previous !== device)
        throw new ParseError(source, 1, `${port} is mapped to both ${previous} and ${device}`);
      out.set(port, device);
    }
  }
  return out;
}
