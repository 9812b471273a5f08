/** Progress for the caller: a line at the start and per validation, and a callback per step. */
import { formatPercent } from '../../metrics/metrics-format.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import type { StepReport, TrainHook, TrainRun } from './train-hook.js';
import { countNoun } from '../../core/plural.js';

export class ProgressHook implements TrainHook {
  constructor(
    private readonly log: (line: string) => void,
    private readonly onStep?: (step: StepReport) => void,
  ) {}

  beforeRun(run: TrainRun): void {
    const c = run.config;
    if (run.state.iteration >= c.iters) return; // a finished run trains nothing
    this.log(
      `training ${c.backbone} (output stride ${c.outputStride}, width ${c.width}${c.decoder !== 'aspp' ? `, decoder ${c.decoder}` : ''}) with head ${c.head}` +
        `${c.auxLoss !== undefined ? ` (+ ${c.auxLoss} x the aux classifier's loss)` : ''} ` +
        `on ${run.dataset.root} '${c.split}', ${countNoun(c.iters, 'iteration')} of batch ${c.batch} at ${c.crop}px`,
    );
  }

  afterTrainIter(_run: TrainRun, step: StepReport): void {
    this.onStep?.(step);
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    this.log(
      `iteration ${run.state.iteration}: val mIoU ${formatPercent(result.metrics.mIoU)}% on ${countNoun(result.images, 'image')} of '${run.config.valSplit}'`,
    );
  }
}
