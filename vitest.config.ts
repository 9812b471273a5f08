import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The longest files first (in this order), then vitest's own order: with two workers, a long
 * file started last would run on alone while the other core idles.
 */
const LONGEST_FIRST = [
  'test/tools/reproduce-fashion-v2.test.ts',
  'test/training/captured-runs.test.ts',
  'test/training/step-runner.test.ts',
  'test/tools/torchvision-roundtrip.test.ts',
  'test/inference/torchvision-parity.test.ts',
  'test/training/trainer.test.ts',
  'test/report/report.test.ts',
  'test/cli/toolkit-commands.test.ts',
  'test/cli/export-command.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((suffix) => f.moduleId.endsWith(suffix));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: on a loaded machine a test may take many times its idle duration; a pass must not depend on that.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // tfjs backends are process-global state: run files in separate forks, two at a time.
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
