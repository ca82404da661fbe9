import { describe, expect, it } from 'vitest';
import { classifyWrite, errorMessage } from './response.ts';

describe('write answers', () => {
  it('reads 1.x, 2.x and plain-text error bodies', () => {
    expect(errorMessage('{"error":"database not found: \\"x\\""}')).toBe('database not found: "x"');
    expect(errorMessage('{"code":"invalid","message":"unable to parse"}')).toBe('unable to parse');
    expect(errorMessage(' cannot parse line\n')).toBe('cannot parse line');
  });

  it('treats 2xx as written', () => {
    expect(classifyWrite(204, '')).toEqual({ kind: 'written' });
  });

  it('retries 429 and 5xx, with the Retry-After the server asked for', () => {
    const busy = classifyWrite(429, '{"error":"too many"}', '3');
    expect(busy.kind).toBe('retry');
    if (busy.kind === 'retry') expect(busy.failure.retryAfterMs).toBe(3000);
    for (const status of [500, 502, 503, 504]) expect(classifyWrite(status, 'timeout').kind).toBe('retry');
  });

  it('reads the lines a partial write dropped (InfluxDB 1.6 message)', () => {
    const body =
      '{"error":"partial write: field type conflict: input field \\"v\\" on measurement \\"m9b\\" is type integer, already exists as type float dropped=1"}';
    expect(classifyWrite(400, body)).toMatchObject({
      kind: 'partial',
      droppedLines: 1,
      reason: 'field_type_conflict',
    });
    expect(
      classifyWrite(400, '{"error":"partial write: points beyond retention policy dropped=3"}'),
    ).toMatchObject({ kind: 'partial', droppedLines: 3, reason: 'beyond_retention' });
  });

  it('drops other 4xx answers with a reason', () => {
    expect(classifyWrite(400, '{"error":"unable to parse \'x\': missing fields"}')).toMatchObject({
      kind: 'rejected',
      reason: 'bad_request',
    });
    expect(classifyWrite(400, '{"error":"field type conflict: input field"}')).toMatchObject({
      reason: 'field_type_conflict',
    });
    expect(classifyWrite(401, '{"error":"authorization failed"}')).toMatchObject({ reason: 'unauthorized' });
    expect(classifyWrite(403, '')).toMatchObject({ reason: 'forbidden' });
    expect(classifyWrite(404, '{"error":"database not found: \\"x\\""}')).toMatchObject({
      reason: 'not_found',
      message: 'HTTP 404: database not found: "x"',
    });
    expect(classifyWrite(413, '')).toMatchObject({ reason: 'too_large' });
    expect(classifyWrite(422, '')).toMatchObject({ reason: 'bad_request' });
    expect(classifyWrite(418, '')).toMatchObject({ reason: 'client_error' });
  });
});
