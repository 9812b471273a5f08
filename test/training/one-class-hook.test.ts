import { describe, expect, it } from 'vitest';
import { ConfusionMatrix } from '../../src/metrics/confusion-matrix.js';
import { computeMetrics } from '../../src/metrics/segmentation-metrics.js';
import type { EvaluationResult } from '../../src/inference/evaluate.js';
import { dominantPrediction, OneClassWarningHook } from '../../src/training/hooks/one-class-hook.js';
import type { TrainRun } from '../../src/training/hooks/train-hook.js';

/** Rows: ground truth, columns: prediction (3 classes). */
function result(counts: number[]): EvaluationResult {
  const confusion = ConfusionMatrix.fromCounts(3, counts);
  return { confusion, images: 1, skipped: [], metrics: computeMetrics(confusion, ['background', 'cat', 'dog']) };
}

// 990 of 1000 pixels predicted background (column 0): 0.99 exactly.
const allBackground = result([900, 5, 0, 60, 5, 0, 30, 0, 0]);
const mixed = result([800, 100, 0, 50, 50, 0, 0, 0, 0]);

describe('one-class prediction warning', () => {
  it('finds the class predicted for at least 99% of the pixels', () => {
    expect(dominantPrediction(allBackground)).toEqual([0, 0.99]);
    expect(dominantPrediction(mixed)).toBeUndefined(); // background 850 of 1000
    expect(dominantPrediction(result([0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
  });

  it('warns once per run and points to the README recipe', () => {
    const lines: string[] = [];
    const hook = new OneClassWarningHook((l) => lines.push(l));
    const run = { state: { iteration: 100 }, dataset: { classNames: ['background', 'cat', 'dog'] } } as unknown as TrainRun;
    hook.afterVal(run, mixed);
    expect(lines).toEqual([]);
    hook.afterVal(run, allBackground);
    hook.afterVal(run, allBackground);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /iteration 100 the model predicts 'background' for 99\.0% of the val pixels.*"A first real run" in the README/,
    );
  });
});
