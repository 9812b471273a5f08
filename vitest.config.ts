import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: on a loaded machine a test may take many times its idle duration; a pass must not depend on that.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // tfjs backends are process-global state: run files in separate forks, two at a time.
    pool: 'forks',
    maxWorkers: 2,
  },
});
