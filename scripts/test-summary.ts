// Prints vitest's JSON results as one closing line: "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

const file = process.argv[2] ?? '.test-results.json';
const results = JSON.parse(readFileSync(file, 'utf8')) as VitestJson;
process.stdout.write(
  `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped\n`,
);
