/**
 * `saveBest` (mmseg's `save_best='mIoU'`): after each validation whose metric beats every
 * earlier one (strictly, as mmengine's `greater` rule), the run's weights are saved to
 * `<out>/best/`, atomically as checkpoints are, with that evaluation's metrics in its
 * config.json. The best is an inference checkpoint (weights, no optimizer state): `--resume`
 * always continues from `checkpoint/`, the last one. A resumed run reads the best value so
 * far from `best/config.json`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EvaluationResult } from '../../inference/evaluate.js';
import { readCheckpointConfig, saveCheckpoint } from '../../checkpoint/checkpoint.js';
import { runBestDir } from '../../checkpoint/run-layout.js';
import { formatPercent } from '../../metrics/metrics-format.js';
import { IMAGENET_NORMALIZATION } from '../../data-loading/normalize.js';
import type { BestTraceRow } from '../run-log.js';
import type { SaveBestMetric } from '../train-config.js';
import type { TrainHook, TrainRun } from './train-hook.js';

/** The run's best evaluation so far. */
export interface BestCheckpoint {
  metric: SaveBestMetric;
  value: number;
  iteration: number;
  dir: string;
}

/** The best recorded in `<run>/best/config.json`, if any, by `metric`. */
export function readBestCheckpoint(run: string, metric: SaveBestMetric): BestCheckpoint | undefined {
  const dir = runBestDir(run);
  if (!existsSync(join(dir, 'config.json'))) return undefined;
  const config = readCheckpointConfig(dir);
  const value = config.metrics?.[metric];
  return typeof value === 'number' ? { metric, value, iteration: config.iteration, dir } : undefined;
}

export class BestCheckpointHook implements TrainHook {
  best: BestCheckpoint | undefined;

  constructor(
    private readonly commandLine: readonly string[],
    private readonly log: (line: string) => void,
    private readonly onBest: (row: BestTraceRow) => void,
  ) {}

  beforeRun(run: TrainRun): void {
    const metric = run.config.schedule.saveBest;
    this.best = metric === undefined ? undefined : readBestCheckpoint(run.config.run.out, metric);
  }

  async afterVal(run: TrainRun, result: EvaluationResult): Promise<void> {
    const metric = run.config.schedule.saveBest;
    if (metric === undefined) return;
    const value = result.metrics[metric];
    if (value === null || !Number.isFinite(value)) return;
    const previous = this.best?.metric === metric ? this.best.value : undefined;
    if (previous !== undefined && !(value > previous)) return;
    const dir = runBestDir(run.config.run.out);
    await saveCheckpoint(dir, {
      model: run.model,
      head: run.head.spec,
      classNames: run.dataset.classNames,
      normalization: IMAGENET_NORMALIZATION,
      iteration: run.state.iteration,
      trainingArgs: { ...run.config },
      metrics: { ...result.metrics },
      commandLine: ['seg', ...this.commandLine.slice(1)],
    });
    this.best = { metric, value, iteration: run.state.iteration, dir };
    this.onBest({ type: 'best', iter: run.state.iteration, metric, value, previous: previous ?? null });
    this.log(
      `iteration ${run.state.iteration}: best val ${metric} so far (${formatPercent(value)}%` +
        `${previous !== undefined ? `, was ${formatPercent(previous)}%` : ''}): saved ${dir}`,
    );
  }
}
