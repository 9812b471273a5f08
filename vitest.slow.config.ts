import { defineConfig } from 'vitest/config';

// `npm run test:slow`: the long tests at their full settings (test/tools, the torchvision parity
// test and the captured-step matrix read SEG_SLOW_TESTS). `npm test` runs the same files with tiny settings.
export default defineConfig({
  test: {
    include: ['test/tools/**/*.test.ts', 'test/inference/torchvision-parity.test.ts', 'test/training/step-runner.test.ts'],
    env: { SEG_SLOW_TESTS: '1' },
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
