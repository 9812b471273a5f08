/**
 * Hooks: what happens around the training loop (trace rows, checkpoints, progress, abort)
 * is done by hooks called at named points, so the loop itself only trains.
 *
 *   beforeRun        once, before the first step (also when resuming)
 *   beforeTrainIter  before each step; a hook may ask the loop to stop
 *   afterTrainIter   after each step, with its loss, learning rate and accuracy
 *   afterVal         after each validation, with its result
 *   afterRun         once, when the loop ends normally or is stopped
 *
 * Hooks run in the order given; each may be async.
 */
import type { Head } from '../../heads/head.js';
import type { Rng } from '../../core/random.js';
import type { Dataset } from '../../datasets/dataset.js';
import type { TrainLoader } from '../../data-loading/batch-loader.js';
import type { SegmentationModel } from '../../segmentation/model.js';
import type { SegMetrics } from '../../metrics/segmentation-metrics.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import type { MomentumSgd } from '../sgd.js';
import type { RunState } from '../run-checkpoint.js';
import type { TrainConfig } from '../train-config.js';
import type { WallClock } from '../wall-clock.js';
import type { ResumePlan } from '../resume-plan.js';
import type { CaptureNote } from '../step-runner.js';

/** The state of a run the hooks see and share. */
export interface TrainRun {
  readonly config: TrainConfig;
  readonly dataset: Dataset;
  readonly head: Head;
  readonly model: SegmentationModel;
  readonly sgd: MomentumSgd;
  readonly loader: TrainLoader;
  readonly dropoutRng: Rng;
  /** Iteration done so far and the rest of the resume state. */
  readonly state: RunState;
  /** Training wall time (evaluation excluded). */
  readonly clock: WallClock;
  /** The last validation's metrics. */
  lastMetrics?: SegMetrics;
  /** What a resumed run took from its arguments (undefined for a new run). */
  readonly resumed?: ResumePlan;
  /** Set by a hook to end the loop before the next step (e.g. on an abort signal). */
  stopReason?: 'interrupted';
}

export interface StepReport {
  iteration: number;
  iterations: number;
  loss: number;
  lr: number;
  /** Pixel accuracy of the batch's own predictions (NaN if no valid pixel). */
  trainAcc: number;
  /** The gradients' global L2 norm before clipping; only when the run clips. */
  gradNorm?: number;
  /** Set at the step where a batch shape was captured, or left eager (webgpu; see step-runner.ts). */
  capture?: CaptureNote;
}

export interface TrainHook {
  beforeRun?(run: TrainRun): void | Promise<void>;
  beforeTrainIter?(run: TrainRun): void | Promise<void>;
  afterTrainIter?(run: TrainRun, step: StepReport): void | Promise<void>;
  afterVal?(run: TrainRun, result: EvaluationResult): void | Promise<void>;
  afterRun?(run: TrainRun): void | Promise<void>;
}

type HookPoint = keyof TrainHook;

/** Call `point` on every hook, in order. */
export async function callHooks<P extends HookPoint>(
  hooks: readonly TrainHook[],
  point: P,
  ...args: Parameters<NonNullable<TrainHook[P]>>
): Promise<void> {
  for (const hook of hooks) {
    const fn = hook[point] as ((...a: typeof args) => void | Promise<void>) | undefined;
    if (fn !== undefined) await fn.apply(hook, args);
  }
}

/** True when `every` > 0 divides `iteration`, or at the last iteration. */
export function isDue(iteration: number, every: number, iterations: number): boolean {
  return (every > 0 && iteration % every === 0) || iteration === iterations;
}
