import { describe, expect, it } from 'vitest';
import { isRowError, StoreError, toExportFailure } from './errors.ts';

const server = (code: string, message = 'server error'): Error => Object.assign(new Error(message), { code });

describe('postgresql errors', () => {
  it.each([
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['connection lost', new Error('Connection terminated unexpectedly')],
    ['server shutting down (57P01)', server('57P01')],
    ['server starting (57P03)', server('57P03')],
    ['too many connections (53300)', server('53300')],
    ['deadlock (40P01)', server('40P01')],
    ['bad password (28P01)', server('28P01')],
    ['unknown database (3D000)', server('3D000')],
  ])('retries %s', (_name, error) => {
    expect(toExportFailure(error).retryable).toBe(true);
  });

  it.each([
    ['a value out of range (22003)', server('22003')],
    ['bad JSON (22P02)', server('22P02')],
    ['a check constraint (23514)', server('23514')],
    ['an unknown column (42703)', server('42703')],
    ['a missing privilege (42501)', server('42501')],
    [
      'a missing column found by the exporter',
      new StoreError('the existing metrics table has no column labels', false),
    ],
  ])('does not retry %s', (_name, error) => {
    const failure = toExportFailure(error);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain(error.message);
  });

  it('isolates only errors of the rows themselves', () => {
    expect(isRowError(server('22003'))).toBe(true);
    expect(isRowError(server('23514'))).toBe(true);
    expect(isRowError(server('42703'))).toBe(false);
    expect(isRowError(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});
