/** One validation of a run on its val split (at most `evalLimit` images); its time is not training time. */
import { evaluateModel, type EvaluationResult } from '../inference/evaluate.js';
import { tfjsEngine } from '../inference/engines/tfjs.js';
import type { TrainRun } from './hooks/train-hook.js';

export async function validate(run: TrainRun): Promise<EvaluationResult> {
  const { config } = run;
  const result = await run.clock.exclude(() =>
    evaluateModel(
      tfjsEngine(run.model),
      run.head,
      run.dataset,
      config.data.valSplit,
      config.data.evalLimit > 0 ? { limit: config.data.evalLimit } : {},
    ),
  );
  run.lastMetrics = result.metrics;
  return result;
}
