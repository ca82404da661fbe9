import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'kit/**/*.test.ts',
      'service/**/*.test.ts',
      'receivers/**/*.test.ts',
      'processors/**/*.test.ts',
      'exporters/**/*.test.ts',
      'extensions/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results.json' },
  },
});
