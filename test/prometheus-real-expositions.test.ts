import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from '../receivers/prometheus/parse/exposition.ts';
import { parseSamples } from './support/peers.ts';
import type { RealExporter } from './support/real-exporters.ts';
import { availableRecipes, startRealExporters } from './support/real-exporters.ts';

// Every real exporter packaged in Debian that we can run here, asked for OpenMetrics and for
// the text format: each exposition parses, and gives exactly the samples a plain line reader sees.
const recipes = availableRecipes();

const ACCEPT = {
  openmetrics:
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5',
  text: 'text/plain;version=0.0.4',
};

describe.skipIf(recipes.length === 0)('real exporters parse to the sample', () => {
  let exporters: RealExporter[] = [];
  let stop: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    ({ exporters, stop } = await startRealExporters(recipes));
  }, 120_000);

  afterAll(async () => {
    await stop();
  });

  for (const recipe of recipes) {
    for (const [format, accept] of Object.entries(ACCEPT)) {
      it(`${recipe.name}, ${format} asked for`, async () => {
        const exporter = exporters.find((e) => e.name === recipe.name);
        expect(exporter).toBeDefined();
        for (const url of exporter?.urls ?? []) {
          const response = await fetch(url, { headers: { accept } });
          const body = await response.text();
          expect(response.status).toBe(200);
          const openMetrics = (response.headers.get('content-type') ?? '').includes('openmetrics');
          if (format === 'openmetrics')
            console.log(`${recipe.name} answers ${openMetrics ? 'OpenMetrics' : 'text'}`);
          const families = parseExposition(body, url, openMetrics);
          const samples = families.flatMap((f) =>
            f.samples.map((s) => ({ name: s.name, labels: s.labels, value: s.value })),
          );
          if (!openMetrics) {
            expect(samples).toEqual(parseSamples(body));
          } else {
            // Each line that is not metadata is one sample.
            const lines = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
            expect(samples).toHaveLength(lines.length);
            expect(body.trimEnd().endsWith('# EOF')).toBe(true);
          }
          expect(samples.length).toBeGreaterThan(10);
        }
      }, 60_000);
    }
  }
});
