/**
 * Writes the run's `trace.jsonl`: a start row (backend, adapter), a train row every `logEvery`
 * iterations, at each evaluation and at the last, and an eval row per validation (with its
 * confusion matrix).
 */
import { round } from '../../core/numbers.js';
import { tf } from '../../engine/tf.js';
import { activeAdapter } from '../../engine/backend.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import { TraceWriter, type EvalTraceRow, type TraceRow, type TrainTraceRow } from '../run-log.js';
import { isDue, type StepReport, type TrainHook, type TrainRun } from './train-hook.js';

/** The confusion matrix as rows of counts (ground truth x prediction). */
function confusionRows(result: EvaluationResult): number[][] {
  const k = result.confusion.numClasses;
  return Array.from({ length: k }, (_, t) => Array.from({ length: k }, (_, p) => result.confusion.get(t, p)));
}

export class TraceHook implements TrainHook {
  private writer: TraceWriter | undefined;

  constructor(private readonly onEval?: (row: EvalTraceRow) => void) {}

  beforeRun(run: TrainRun): void {
    this.writer = new TraceWriter(run.config.run.out, run.state.iteration);
    this.writer.append({ type: 'start', iter: run.state.iteration, backend: tf.getBackend(), adapter: activeAdapter() ?? null });
    const extended = run.resumed?.extended;
    if (extended !== undefined)
      this.writer.append({ type: 'extend', iter: run.state.iteration, fromIters: extended.from, toIters: extended.to });
  }

  /** Append a row another hook reports (e.g. a new best checkpoint). */
  record(row: TraceRow): void {
    this.writer?.append(row);
  }

  afterTrainIter(run: TrainRun, step: StepReport): void {
    if (step.capture !== undefined) {
      const { mode, shape, reason } = step.capture;
      this.writer?.append({ type: 'capture', iter: step.iteration, mode, shape, ...(reason !== undefined ? { reason } : {}) });
    }
    // At each evaluation too: trace.csv gives the loss beside every val mIoU.
    const evaluates = isDue(step.iteration, run.config.schedule.evalEvery, step.iterations);
    if (step.iteration % run.config.schedule.logEvery !== 0 && step.iteration !== step.iterations && !evaluates) return;
    const row: TrainTraceRow = {
      type: 'train',
      iter: step.iteration,
      wallSeconds: round(run.clock.seconds(), 3),
      loss: step.loss,
      lr: step.lr,
      trainAcc: step.trainAcc,
      ...(step.gradNorm !== undefined ? { gradNorm: step.gradNorm } : {}),
    };
    this.writer?.append(row);
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    const row: EvalTraceRow = {
      type: 'eval',
      iter: run.state.iteration,
      wallSeconds: round(run.clock.seconds(), 3),
      mIoU: result.metrics.mIoU,
      aAcc: result.metrics.aAcc,
      classIoU: Object.fromEntries(result.metrics.classes.map((c) => [c.name, c.iou])),
      images: result.images,
      confusionMatrix: confusionRows(result),
    };
    this.writer?.append(row);
    this.onEval?.(row);
  }
}
