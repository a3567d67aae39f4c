/**
 * Ends every jest run with the plain line CI reads: "N passed, N failed".
 * Suites that fail to load count as failed tests so a broken file cannot pass silently.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`${results.numPassedTests} passed, ${failed} failed\n`);
  }
}
module.exports = SummaryReporter;
