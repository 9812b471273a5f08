/**
 * Saves the run's checkpoint: every `saveEvery` iterations, before every validation (so a
 * failing evaluation never loses the run), at the last iteration and when the loop is
 * stopped. A validation's metrics are then recorded in the checkpoint just saved.
 */
import { IMAGENET_NORMALIZATION } from '../../voc/normalize.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import { recordCheckpointMetrics } from '../../checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../checkpoint/run-layout.js';
import { saveRunCheckpoint } from '../run-checkpoint.js';
import { isDue, type StepReport, type TrainHook, type TrainRun } from './train-hook.js';

export class CheckpointHook implements TrainHook {
  private savedAt = -1;

  constructor(
    private readonly commandLine: readonly string[],
    private readonly log: (line: string) => void,
  ) {}

  async afterTrainIter(run: TrainRun, step: StepReport): Promise<void> {
    const { saveEvery, evalEvery } = run.config;
    if (isDue(step.iteration, saveEvery, step.iterations) || isDue(step.iteration, evalEvery, step.iterations)) await this.save(run);
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    if (this.savedAt === run.state.iteration) recordCheckpointMetrics(runCheckpointDir(run.config.out), { ...result.metrics });
  }

  async afterRun(run: TrainRun): Promise<void> {
    if (run.stopReason !== 'interrupted') return;
    if (this.savedAt !== run.state.iteration) await this.save(run);
    this.log(`interrupted: saved ${run.config.out} at iteration ${run.state.iteration}; continue with --resume`);
  }

  private async save(run: TrainRun): Promise<void> {
    const { state } = run;
    state.wallSeconds = run.clock.seconds();
    state.loader = run.loader.state();
    state.dropoutRng = run.dropoutRng.state();
    await saveRunCheckpoint(run.config.out, {
      model: run.model,
      headSpec: run.head.spec,
      classNames: run.dataset.classNames,
      normalization: IMAGENET_NORMALIZATION,
      trainConfig: run.config,
      state,
      momentum: run.sgd.velocity,
      ...(run.lastMetrics !== undefined ? { metrics: run.lastMetrics } : {}),
      commandLine: this.commandLine,
    });
    this.savedAt = state.iteration;
  }
}
