import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { damagedText, fuzzParameters, fuzzTimeout } from '../../test/support/fuzz.ts';
import { parseFrame } from './parse/frame.ts';
import { LineSplitter } from './parse/lines.ts';

// wattmetre frames never throw (a bad line is an outcome, counted by kind), and the line
// splitter gives back exactly the lines of any text cut into any pieces, holding no more
// than its bound.

const frames = readFileSync(join(import.meta.dirname, 'testdata', 'fixtures', 'frames.txt'), 'utf8');

describe('wattmetre parsing under damaged input', () => {
  it(
    'parseFrame: never throws; a valid frame has finite watts and a positive time',
    () => {
      fc.assert(
        fc.property(damagedText(frames.split('\n')), (line) => {
          const parsed = parseFrame(line);
          if (parsed.ok) {
            expect(parsed.frame.time).toBeGreaterThan(0);
            for (const w of parsed.frame.watts) if (w !== undefined) expect(Number.isFinite(w)).toBe(true);
          } else expect(['malformed', 'not_ok']).toContain(parsed.reason);
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );

  it(
    'LineSplitter: the lines of any text in any pieces, none longer than the bound',
    () => {
      fc.assert(
        fc.property(
          damagedText([frames]),
          fc.array(fc.nat({ max: 200 }), { maxLength: 10 }),
          fc.integer({ min: 1, max: 120 }),
          (text, cuts, bound) => {
            const got: string[] = [];
            let dropped = 0;
            const split = new LineSplitter(
              bound,
              (l) => got.push(l),
              () => (dropped += 1),
            );
            let at = 0;
            for (const cut of [...cuts].sort((a, b) => a - b)) {
              split.push(text.slice(at, Math.max(at, cut)));
              at = Math.max(at, cut);
            }
            split.push(text.slice(at));
            split.end();
            const expected = text
              .split('\n')
              .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
              .filter((l) => l !== '');
            // The lines given are lines of the text, in order; every line within the bound
            // is among them (only a line past the bound while unfinished is dropped).
            let i = 0;
            for (const line of got) {
              while (i < expected.length && expected[i] !== line) {
                expect((expected[i] ?? '').length).toBeGreaterThan(bound);
                i += 1;
              }
              expect(i).toBeLessThan(expected.length);
              i += 1;
            }
            for (; i < expected.length; i++) expect((expected[i] ?? '').length).toBeGreaterThan(bound);
            expect(dropped).toBeLessThanOrEqual(expected.length);
          },
        ),
        fuzzParameters(500),
      );
    },
    fuzzTimeout(),
  );
});
