/**
 * Saves the run's checkpoint: every `saveEvery` iterations, before every validation (so a
 * failing evaluation never loses the run), at the last iteration and when the loop is
 * stopped. A validation's metrics are then recorded in the checkpoint just saved.
 */
import { existsSync } from 'node:fs';
import { IMAGENET_NORMALIZATION } from '../../data-loading/normalize.js';
import type { EvaluationResult } from '../../inference/evaluate.js';
import { recordCheckpointMetrics } from '../../checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../checkpoint/run-layout.js';
import { lastCheckpointNote, saveRunCheckpoint } from '../run-checkpoint.js';
import { runFolderRemoved } from '../run-log.js';
import { NonFiniteError } from '../non-finite-error.js';
import { isDue, type StepReport, type TrainHook, type TrainRun } from './train-hook.js';

/**
 * A diverged run can keep a finite loss (ReLUs cut the NaNs off) while weights are NaN:
 * weights are checked before every save, and a non-finite one stops the run as a
 * non-finite loss does, with the last good checkpoint left intact. Read asynchronously
 * (GPU backends must not block on a synchronous read).
 */
async function checkFiniteWeights(run: TrainRun): Promise<void> {
  const names: string[] = [];
  for (const [name, v] of [...run.model.params, ...run.model.buffers]) {
    const data = (await v.data()) as Float32Array;
    if (!data.every(Number.isFinite)) names.push(name);
  }
  if (names.length === 0) return;
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
  throw new NonFiniteError(
    `iteration ${run.state.iteration}: ${names.length} weight tensor${names.length === 1 ? ' has' : 's have'} non-finite values (${shown}); ` +
      `training stopped without saving. ${lastCheckpointNote(run.config.run.out, run.config.schedule.saveEvery)}. Try a lower \`lr\`.`,
    { iteration: run.state.iteration, what: 'weights', tensors: names },
  );
}

export class CheckpointHook implements TrainHook {
  private savedAt = -1;

  constructor(
    private readonly commandLine: readonly string[],
    private readonly log: (line: string) => void,
  ) {}

  async afterTrainIter(run: TrainRun, step: StepReport): Promise<void> {
    const { saveEvery, evalEvery } = run.config.schedule;
    if (isDue(step.iteration, saveEvery, step.iterations) || isDue(step.iteration, evalEvery, step.iterations)) await this.save(run);
  }

  afterVal(run: TrainRun, result: EvaluationResult): void {
    if (this.savedAt === run.state.iteration) recordCheckpointMetrics(runCheckpointDir(run.config.run.out), { ...result.metrics });
  }

  async afterRun(run: TrainRun): Promise<void> {
    if (run.stopReason !== 'interrupted') return;
    if (this.savedAt !== run.state.iteration) await this.save(run);
    this.log(`interrupted: saved ${run.config.run.out} at iteration ${run.state.iteration}; continue it with \`resume\``);
  }

  private async save(run: TrainRun): Promise<void> {
    const { state } = run;
    // The save would make the folder again; a folder removed under the run stops it instead.
    if (!existsSync(run.config.run.out)) throw runFolderRemoved(run.config.run.out, state.iteration);
    await checkFiniteWeights(run);
    state.wallSeconds = run.clock.seconds();
    state.loader = run.loader.state();
    state.dropoutRng = run.dropoutRng.state();
    await saveRunCheckpoint(run.config.run.out, {
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
