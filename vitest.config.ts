import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs backends are process-global state: run files in separate forks, two at a time.
    pool: 'forks',
    maxWorkers: 2,
  },
});
