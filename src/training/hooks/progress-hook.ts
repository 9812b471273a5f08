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
    if (run.state.iteration >= c.schedule.iters) return; // a finished run trains nothing
    this.log(
      `training ${c.model.backbone} (output stride ${c.model.outputStride}, width ${c.model.width}${c.model.decoder !== 'aspp' ? `, decoder ${c.model.decoder}` : ''}) with head ${c.model.head}` +
        `${c.model.auxLoss !== undefined ? ` (+ ${c.model.auxLoss} x the aux classifier's loss)` : ''} ` +
        `on ${run.dataset.root} '${c.data.split}', ${countNoun(c.schedule.iters, 'iteration')} of batch ${c.data.batch} at ${c.data.crop}px`,
    );
  }

  afterTrainIter(_run: TrainRun, step: StepReport): void {
    this.onStep?.(step);
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    this.log(
      `iteration ${run.state.iteration}: val mIoU ${formatPercent(result.metrics.mIoU)}% on ${countNoun(result.images, 'image')} of '${run.config.data.valSplit}'`,
    );
  }
}
