/**
 * `tensorboard`: the run's scalars as TensorBoard event files in the given folder, at the
 * iteration as step: every trace row's `train/loss`, `train/lr`, `train/acc` (and
 * `train/grad_norm` when clipping), and every validation's `val/mIoU`, `val/aAcc`,
 * `val/mAcc`, `val/fwIoU` and `val/IoU/<class>`. Each (re)start opens a new file; a resumed
 * run first writes a session start at the step after its checkpoint, so TensorBoard drops
 * the steps the interrupted process logged after its last save.
 */
import { EventFileWriter } from '../../core/tfevents.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import type { StepReport, TrainHook, TrainRun } from './train-hook.js';

export class TensorboardHook implements TrainHook {
  private writer: EventFileWriter | undefined;

  beforeRun(run: TrainRun): void {
    const dir = run.config.run.tensorboard;
    if (dir === undefined || run.state.iteration >= run.config.schedule.iters) return;
    this.writer = new EventFileWriter(dir);
    if (run.state.iteration > 0) this.writer.sessionStart(run.state.iteration + 1);
  }

  afterTrainIter(run: TrainRun, step: StepReport): void {
    if (this.writer === undefined) return;
    if (step.iteration % run.config.schedule.logEvery !== 0 && step.iteration !== step.iterations) return;
    this.writer.scalars(step.iteration, {
      'train/loss': step.loss,
      'train/lr': step.lr,
      'train/acc': step.trainAcc,
      ...(step.gradNorm !== undefined ? { 'train/grad_norm': step.gradNorm } : {}),
    });
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    if (this.writer === undefined) return;
    const m = result.metrics;
    const scalars: Record<string, number> = {};
    for (const [name, value] of [
      ['mIoU', m.mIoU],
      ['aAcc', m.aAcc],
      ['mAcc', m.mAcc],
      ['fwIoU', m.fwIoU],
    ] as const) {
      if (value !== null) scalars[`val/${name}`] = value;
    }
    for (const c of m.classes) if (c.iou !== null) scalars[`val/IoU/${c.name}`] = c.iou;
    this.writer.scalars(run.state.iteration, scalars);
  }
}
