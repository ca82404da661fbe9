import { createRequire } from 'node:module';
import type * as ProtoJson from 'protobufjs/ext/protojson.js';
import { OtlpDecodeError } from '../errors.ts';
import { otlpTypes } from './proto.ts';

/**
 * OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) mapped onto
 * the protobuf message, so that one decoder reads both encodings: ProtoJSON as protobufjs
 * reads it (lowerCamelCase or original field names, enums as integers or names, 64-bit
 * integers as strings or numbers, bytes in base64; unknown fields ignored, as the
 * specification asks), with OTLP's one exception — trace and span ids are hex, not base64.
 */

const require = createRequire(import.meta.url);
let protojsonModule: typeof ProtoJson | undefined;

/** protobufjs's ProtoJSON extension, loaded with the first OTLP/JSON request. */
function protojson(): typeof ProtoJson {
  protojsonModule ??= require('protobufjs/ext/protojson.js') as typeof ProtoJson;
  return protojsonModule;
}

const ROOT = 'ExportMetricsServiceRequest';
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The elements of the repeated field `camel` (or `snake`) of `object` that are objects, with their paths. */
function* children(
  object: JsonObject,
  path: string,
  camel: string,
  snake: string,
): Generator<[JsonObject, string]> {
  const key = camel in object ? camel : snake;
  const list = object[key];
  if (!Array.isArray(list)) return;
  for (const [i, item] of list.entries()) if (isObject(item)) yield [item, `${path}.${key}[${i}]`];
}

/** A single message field `camel` (or `snake`) that is an object. */
function child(
  object: JsonObject,
  path: string,
  camel: string,
  snake: string,
): [JsonObject, string] | undefined {
  const key = camel in object ? camel : snake;
  const value = object[key];
  return isObject(value) ? [value, `${path}.${key}`] : undefined;
}

/** Rewrites the hex trace and span ids of every exemplar in base64, as ProtoJSON reads bytes. */
function hexIdsToBase64(request: JsonObject): void {
  for (const [rm, rmPath] of children(request, ROOT, 'resourceMetrics', 'resource_metrics'))
    for (const [sm, smPath] of children(rm, rmPath, 'scopeMetrics', 'scope_metrics'))
      for (const [metric, metricPath] of children(sm, smPath, 'metrics', 'metrics'))
        for (const [camel, snake] of [
          ['gauge', 'gauge'],
          ['sum', 'sum'],
          ['histogram', 'histogram'],
          ['exponentialHistogram', 'exponential_histogram'],
        ] as const) {
          const data = child(metric, metricPath, camel, snake);
          if (data === undefined) continue;
          for (const [point, pointPath] of children(data[0], data[1], 'dataPoints', 'data_points'))
            for (const [exemplar, exemplarPath] of children(point, pointPath, 'exemplars', 'exemplars'))
              for (const key of ['traceId', 'trace_id', 'spanId', 'span_id']) {
                const id = exemplar[key];
                if (id === undefined || id === null) continue;
                if (typeof id !== 'string' || !HEX.test(id))
                  throw new OtlpDecodeError(`${exemplarPath}.${key}`, -1, 'expected a hex string');
                exemplar[key] = Buffer.from(id, 'hex').toString('base64');
              }
        }
}

/**
 * OTLP/JSON text of an `ExportMetricsServiceRequest` → its protobuf bytes. Throws an
 * {@link OtlpDecodeError} when the text is not JSON or not the message.
 */
export function otlpJsonToProtobuf(text: string): Uint8Array {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OtlpDecodeError(ROOT, -1, `not JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw new OtlpDecodeError(ROOT, -1, 'expected a JSON object');
  hexIdsToBase64(json);
  const type = otlpTypes.ExportMetricsServiceRequest;
  try {
    return type.encode(protojson().fromJson(type, json, { ignoreUnknownFields: true })).finish();
  } catch (error) {
    // protobufjs names the field by its full name: `.opentelemetry.proto.metrics.v1.Metric.name: expected string`.
    const message = (error as Error).message;
    const located = /^\.opentelemetry\.proto\.[\w.]*?\.v1\.([\w.]+): (.*)$/s.exec(message);
    throw new OtlpDecodeError(located?.[1] ?? ROOT, -1, located?.[2] ?? message, { cause: error });
  }
}
