import { describe, expect, it } from 'vitest';
import { negotiateFormat } from './negotiate.ts';

/** What Prometheus 2.42 sends when it scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('negotiateFormat', () => {
  it.each([
    [PROMETHEUS_ACCEPT, 'openmetrics'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version="1.0.0"; charset=utf-8', 'openmetrics'],
    ['text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5', 'text'],
    ['text/plain;q=0.5, application/openmetrics-text;q=0.5', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'text'],
    ['application/openmetrics-text;q=0', 'text'],
    ['text/plain', 'text'],
    ['*/*', 'text'],
    ['application/json', 'text'],
    ['', 'text'],
    [undefined, 'text'],
  ])('%j → %s', (accept, expected) => {
    expect(negotiateFormat(accept, true)).toBe(expected);
  });

  it('answers in the text format whatever is asked when OpenMetrics is disabled', () => {
    expect(negotiateFormat(PROMETHEUS_ACCEPT, false)).toBe('text');
  });
});
