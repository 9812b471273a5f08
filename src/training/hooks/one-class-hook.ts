/**
 * A first run that only learned the most frequent class (usually background) still reports
 * a plausible pixel accuracy. When a validation finds one class predicted for at least
 * `share` of the pixels, say so once, and point to a recipe that learns.
 */
import type { EvaluationResult } from '../../inference/evaluate.js';
import type { TrainHook, TrainRun } from './train-hook.js';

export const ONE_CLASS_SHARE = 0.99;

/** The class predicted for at least `share` of the counted pixels, if any: [index, share]. */
export function dominantPrediction(result: EvaluationResult, share = ONE_CLASS_SHARE): [number, number] | undefined {
  const { confusion } = result;
  const total = confusion.total;
  if (total === 0) return undefined;
  for (let p = 0; p < confusion.numClasses; p++) {
    let predicted = 0;
    for (let t = 0; t < confusion.numClasses; t++) predicted += confusion.get(t, p);
    if (predicted / total >= share) return [p, predicted / total];
  }
  return undefined;
}

export class OneClassWarningHook implements TrainHook {
  private warned = false;

  constructor(private readonly warn: (line: string) => void) {}

  afterVal(run: TrainRun, result: EvaluationResult): void {
    if (this.warned) return;
    const found = dominantPrediction(result);
    if (found === undefined) return;
    this.warned = true;
    const name = run.dataset.classNames[found[0]] ?? String(found[0]);
    this.warn(
      `warning: at iteration ${run.state.iteration} the model predicts '${name}' for ${(found[1] * 100).toFixed(1)}% of the val pixels: ` +
        `it has not learned the other classes yet. See "A first real run" in the README for settings that learn (learning rate, iterations, sizes)`,
    );
  }
}
