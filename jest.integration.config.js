/** Suites against the real engines; `npm run test:integration` starts them first. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  globalSetup: '<rootDir>/test/integration/global-setup.ts',
  // The engines already use most of the two cores; one suite at a time keeps timings honest.
  maxWorkers: 1,
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/summary.reporter.js'],
};
