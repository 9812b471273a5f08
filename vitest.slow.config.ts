import { defineConfig } from 'vitest/config';

// `npm run test:slow`: the long tool tests at their full settings (test/tools reads SEG_TEST_FULL).
// `npm test` runs the same files with tiny settings.
export default defineConfig({
  test: {
    include: ['test/tools/**/*.test.ts'],
    env: { SEG_TEST_FULL: '1' },
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
