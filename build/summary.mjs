// Prints the plain closing line CI reads, from vitest's JSON reporter: "N passed, N failed".
import { readFileSync } from 'node:fs';
const file = process.argv[2] ?? 'test-results/results.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.log(`test results unreadable (${file}): ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const failedSuites = (r.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0);
for (const s of failedSuites) console.log(`suite failed to run: ${s.name}: ${(s.message ?? '').split('\n')[0]}`);
const passed = r.numPassedTests ?? 0;
const failed = (r.numFailedTests ?? 0) + failedSuites.length;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
