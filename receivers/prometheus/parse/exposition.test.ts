import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../kit/errors.ts';
import { INVALID, VALID } from '../testdata/corpus.ts';
import type { Family } from './exposition.ts';
import { parseExposition } from './exposition.ts';

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** One line per sample: `family type: sample{labels} value [@ms]`. */
function describeSamples(families: Family[]): string[] {
  return families.flatMap((f) =>
    f.samples.map((s) => {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escape(v)}"`)
        .join(',');
      const at = s.timestamp === undefined ? '' : ` @${String(s.timestamp)}`;
      return `${f.name} ${f.type}: ${s.name}{${labels}} ${String(s.value)}${at}`;
    }),
  );
}

describe('the specification corpus: valid expositions', () => {
  for (const c of VALID) {
    it(c.rule, () => {
      expect(describeSamples(parseExposition(c.text, 'corpus', c.openMetrics))).toEqual(c.expect);
    });
  }
});

describe('the specification corpus: invalid expositions fail on their line', () => {
  for (const c of INVALID) {
    it(c.rule, () => {
      let error: unknown;
      try {
        parseExposition(c.text, 'corpus', c.openMetrics);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).line).toBe(c.line);
      expect((error as ParseError).message).toMatch(new RegExp(`^corpus:${String(c.line)}: `));
    });
  }
});

describe('what the corpus does not show', () => {
  it('keeps exemplars with their labels, value and timestamp', () => {
    const [family] = parseExposition(
      '# TYPE foo counter\nfoo_total 17.0 # {trace_id="KOO5S4vxi0o"} 0.67 1520879602.3\n# EOF\n',
      'x',
      true,
    );
    expect(family?.samples[0]?.exemplar).toEqual({
      labels: { trace_id: 'KOO5S4vxi0o' },
      value: 0.67,
      timestamp: 1520879602300,
    });
  });

  it('reads HELP, TYPE and UNIT', () => {
    const [family] = parseExposition(
      '# TYPE foo_seconds gauge\n# UNIT foo_seconds seconds\n# HELP foo_seconds Some \\"quoted\\" help\\nwith a \\\\.\nfoo_seconds 1\n# EOF\n',
      'x',
      true,
    );
    expect(family).toMatchObject({ type: 'gauge', unit: 'seconds', help: 'Some "quoted" help\nwith a \\.' });
  });

  it('names the column of what is wrong', () => {
    expect(() => parseExposition('a{b="\\t"} 1\n', 's')).toThrow('s:1: column 6: invalid escape \\t');
  });
});
