/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Suites on the real engines run with jest.integration.config.js (npm run test:integration).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // Integration suites start servers; one worker per core keeps them from starving each other.
  maxWorkers: 2,
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/summary.reporter.js'],
};
