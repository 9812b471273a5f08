/**
 * `train`: the training loop of seg. SGD with momentum, weight decay and a poly learning rate (after an optional warmup)
 * on a DeepLab model with one of the heads. What happens around the steps is done by hooks
 * (hooks/): the trace rows of `<out>/trace.jsonl`, checkpoints that resume exactly, progress
 * and abort. A non-finite loss stops the run with a NonFiniteError and leaves the last
 * checkpoint intact; an abort signal (Ctrl-C in the CLI) saves before returning.
 */
import type { HeadSpec } from '../heads/head-spec.js';
import type { SegMetrics } from '../metrics/segmentation-metrics.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { AbortHook } from './hooks/abort-hook.js';
import { BestCheckpointHook, type BestCheckpoint } from './hooks/best-checkpoint-hook.js';
import { CheckpointHook } from './hooks/checkpoint-hook.js';
import { OneClassWarningHook } from './hooks/one-class-hook.js';
import { ProgressHook } from './hooks/progress-hook.js';
import { TensorboardHook } from './hooks/tensorboard-hook.js';
import { TraceHook } from './hooks/trace-hook.js';
import { callHooks, isDue, type StepReport, type TrainHook, type TrainRun } from './hooks/train-hook.js';
import { NonFiniteError } from './non-finite-error.js';
import type { EvalTraceRow } from './run-log.js';
import { startRun } from './run-setup.js';
import { scheduledLearningRate } from './lr-schedule.js';
import { lastCheckpointNote } from './run-checkpoint.js';
import type { TrainConfig } from './train-config.js';
import type { ResumePlan, TrainField } from './resume-plan.js';
import { createStepRunner, describeCaptureNote, type RunnerStepResult } from './step-runner.js';
import { cleanupQuietly } from '../core/cleanup.js';
import { validate } from './val-loop.js';

export interface TrainHooks {
  /** Human-readable lines (start, evaluations, saves). */
  log?: (line: string) => void;
  /** Called after every iteration. */
  onStep?: (info: StepReport) => void;
  onEval?: (row: EvalTraceRow) => void;
  /** Abort (e.g. SIGINT): the loop saves a checkpoint and returns with `interrupted`. */
  signal?: AbortSignal;
  /** Continue the run in `config.run.out` from its checkpoint. */
  resume?: boolean;
  /** Resume even when the checkpoint lacks its optimizer state or loader position (refused otherwise); what is lost is logged. */
  allowInexactResume?: boolean;
  /** The command line that started the run (recorded in the checkpoint). */
  commandLine?: readonly string[];
  /**
   * The config fields set on purpose (a CLI passes the flags typed): a resumed run compares
   * only these with its own (see resume-plan.ts). Undefined: all.
   */
  given?: readonly TrainField[];
  /** More hooks, called after the built-in ones (trace, progress, checkpoint, abort). */
  hooks?: readonly TrainHook[];
  /**
   * On webgpu, capture a step and replay it (training/step-runner.ts; default true). Results
   * are bit-identical either way; false runs every step through tfjs.
   */
  capture?: boolean;
}

interface PendingStep {
  lr: number;
  result: Promise<RunnerStepResult>;
}

export interface TrainResult {
  out: string;
  iteration: number;
  interrupted: boolean;
  lastLoss: number;
  metrics?: SegMetrics;
  head: HeadSpec;
  model: SegmentationModel;
  /** A resumed run that had already done all its iterations: nothing was trained. */
  alreadyFinished: boolean;
  /** mIoU of the last evaluation, as saved in an already finished run's checkpoint. */
  savedMIoU?: number | null;
  /** What a resumed run took from its arguments. */
  resumed?: ResumePlan;
  /** With `saveBest`: the best evaluation so far and its checkpoint (`<out>/best`). */
  best?: BestCheckpoint;
}

/**
 * The built-in hooks, in calling order: the trace and progress first, then the checkpoint
 * (saved before validating) and the best checkpoint (after it).
 */
function runHooks(options: TrainHooks, log: (line: string) => void): { hooks: TrainHook[]; best: BestCheckpointHook } {
  const trace = new TraceHook(options.onEval);
  const commandLine = options.commandLine ?? [];
  const best = new BestCheckpointHook(commandLine, log, (row) => trace.record(row));
  const hooks = [
    trace,
    new ProgressHook(log, options.onStep),
    ...(options.signal !== undefined ? [new AbortHook(options.signal)] : []),
    new CheckpointHook(commandLine, log),
    best,
    new TensorboardHook(),
    new OneClassWarningHook(log),
    ...(options.hooks ?? []),
  ];
  return { hooks, best };
}

/** Train (or resume) a run; see the module comment. */
export async function train(configIn: TrainConfig, options: TrainHooks = {}): Promise<TrainResult> {
  const log = options.log ?? (() => undefined);
  const run = await startRun(configIn, {
    resume: options.resume === true,
    allowInexactResume: options.allowInexactResume === true,
    log,
    ...(options.given !== undefined ? { given: options.given } : {}),
  });
  const { config, state, loader } = run;
  const alreadyFinished = state.iteration >= config.schedule.iters;
  const { hooks, best } = runHooks(options, log);
  let lastLoss = Number.NaN;
  const runner = createStepRunner(run.model, run.head, run.sgd, {
    capture: options.capture !== false,
    onNote: (n) => log(describeCaptureNote(n)),
  });
  // A replayed step may be in flight while the host handles the one before it (its trace row,
  // progress): the GPU runs step i + 1 while step i is logged. Never across a save, an
  // evaluation, the end, or hooks of the caller's, which may read the weights.
  const overlap = runner.overlapping && (options.hooks ?? []).length === 0;
  const syncAt = (iteration: number): boolean =>
    !overlap ||
    isDue(iteration, config.schedule.saveEvery, config.schedule.iters) ||
    isDue(iteration, config.schedule.evalEvery, config.schedule.iters);
  const finish = async (pending: PendingStep): Promise<void> => {
    const step = await pending.result;
    if (!Number.isFinite(step.loss)) throw nonFiniteLoss(run, step.loss);
    if (step.gradNorm !== undefined && !Number.isFinite(step.gradNorm)) throw nonFiniteGradient(run, step.gradNorm);
    state.iteration += 1;
    lastLoss = step.loss;
    await callHooks(hooks, 'afterTrainIter', run, {
      iteration: state.iteration,
      iterations: config.schedule.iters,
      loss: step.loss,
      lr: pending.lr,
      trainAcc: step.pixelAccuracy,
      ...(step.gradNorm !== undefined ? { gradNorm: step.gradNorm } : {}),
      ...(step.capture !== undefined ? { capture: step.capture } : {}),
    });
    if (isDue(state.iteration, config.schedule.evalEvery, config.schedule.iters))
      await callHooks(hooks, 'afterVal', run, await validate(run));
  };
  let pending: PendingStep | undefined;
  try {
    await callHooks(hooks, 'beforeRun', run);
    while (state.iteration + (pending !== undefined ? 1 : 0) < config.schedule.iters) {
      await callHooks(hooks, 'beforeTrainIter', run);
      if (run.stopReason !== undefined) break;
      const index = state.iteration + (pending !== undefined ? 1 : 0);
      const lr = scheduledLearningRate({ lr: config.optim.lr, ...config.schedule }, index);
      const result = runner.run(await loader.nextBatch(), {
        lr,
        freezeBn: config.optim.freezeBn,
        dropoutRng: run.dropoutRng,
        ...(config.optim.clipGradNorm !== undefined ? { clipGradNorm: config.optim.clipGradNorm } : {}),
        ...(config.model.auxLoss !== undefined ? { auxLoss: config.model.auxLoss } : {}),
      });
      result.catch(() => undefined); // awaited below; never an unhandled rejection when an earlier step throws
      if (pending !== undefined) await finish(pending);
      pending = { lr, result };
      if (syncAt(index + 1)) {
        const due = pending;
        pending = undefined;
        await finish(due);
      }
    }
    if (pending !== undefined) {
      const due = pending;
      pending = undefined;
      await finish(due);
    }
    await callHooks(hooks, 'afterRun', run);
  } catch (err) {
    // Disposing after an engine abort may throw again: never let that hide the original error.
    cleanupQuietly(() => run.model.dispose());
    throw err;
  } finally {
    loader.close();
    cleanupQuietly(() => runner.dispose());
    cleanupQuietly(() => run.sgd.dispose());
    run.lock.release();
  }
  return {
    out: config.run.out,
    iteration: state.iteration,
    interrupted: run.stopReason === 'interrupted',
    lastLoss,
    ...(run.lastMetrics !== undefined ? { metrics: run.lastMetrics } : {}),
    head: run.head.spec,
    model: run.model,
    alreadyFinished,
    ...(alreadyFinished ? { savedMIoU: savedMIoU(run.savedMetrics) } : {}),
    ...(run.resumed !== undefined ? { resumed: run.resumed } : {}),
    ...(best.best !== undefined ? { best: best.best } : {}),
  };
}

function savedMIoU(metrics: Record<string, unknown> | null | undefined): number | null {
  const v = metrics?.['mIoU'];
  return typeof v === 'number' ? v : null;
}

/** With clipping, a non-finite gradient norm makes the clip factor 0 or NaN: the run cannot go on. */
function nonFiniteGradient(run: TrainRun, norm: number): NonFiniteError {
  const iteration = run.state.iteration + 1;
  return new NonFiniteError(
    `iteration ${iteration}: the gradient norm is ${norm}; training stopped. ${lastCheckpointNote(run.config.run.out, run.config.schedule.saveEvery)}. ` +
      `Try a lower \`lr\`${run.head.spec.kind === 'egb' ? ' or a smaller egb alpha' : ''}.`,
    { iteration, what: 'gradient-norm', value: norm },
  );
}

function nonFiniteLoss(run: TrainRun, loss: number): NonFiniteError {
  const iteration = run.state.iteration + 1;
  return new NonFiniteError(
    `iteration ${iteration}: the loss is ${loss}; training stopped. ${lastCheckpointNote(run.config.run.out, run.config.schedule.saveEvery)}. ` +
      `Try a lower \`lr\`${run.head.spec.kind === 'egb' ? ' or a smaller egb alpha' : ''}.`,
    { iteration, what: 'loss', value: loss },
  );
}
