/**
 * The checkpoint of a training run: `<run>/checkpoint/` (config.json, model.safetensors,
 * optimizer.safetensors with the momentum buffers, state.json with the resume state), next
 * to `<run>/trace.jsonl`. A separate sub-folder because checkpoint saves swap whole
 * directories atomically, and the trace must stay where it is.
 */
import { join } from 'node:path';
import { SegError } from '../core/errors.js';
import type { HeadSpec } from '../heads/head-spec.js';
import type { SegMetrics } from '../metrics/segmentation-metrics.js';
import type { RngState } from '../core/random.js';
import { tf } from '../engine/tf.js';
import type { LoaderState } from '../voc/types.js';
import type { Normalization } from '../voc/normalize.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { TrainConfig } from './train-config.js';
import { runCheckpointDir } from '../checkpoint/run-layout.js';

/** What resuming needs besides weights and momentum. */
export interface RunState {
  iteration: number;
  /** Training wall time so far (evaluation excluded), seconds. */
  wallSeconds: number;
  /** The data loader's position; undefined before the first save. */
  loader: LoaderState | undefined;
  dropoutRng: RngState;
  /** Training split size when the run started. */
  samples: number;
}

export interface RunCheckpoint {
  model: SegmentationModel;
  headSpec: HeadSpec;
  classNames: readonly string[];
  normalization: Normalization;
  trainConfig: TrainConfig;
  state: RunState;
  momentum: ReadonlyMap<string, tf.Tensor>;
  metrics?: SegMetrics;
  commandLine: readonly string[];
}

export async function saveRunCheckpoint(run: string, c: RunCheckpoint): Promise<void> {
  await saveCheckpoint(runCheckpointDir(run), {
    model: c.model,
    head: c.headSpec,
    classNames: c.classNames,
    normalization: c.normalization,
    iteration: c.state.iteration,
    trainingArgs: { ...c.trainConfig },
    metrics: c.metrics === undefined ? null : { ...c.metrics },
    commandLine: ['seg', ...c.commandLine.slice(1)],
    optimizerState: c.momentum,
    trainingState: c.state,
  });
}

export interface LoadedRun {
  model: SegmentationModel;
  headSpec: HeadSpec;
  trainConfig: TrainConfig;
  state: RunState;
  /** Momentum buffers by parameter name; the caller disposes them. */
  momentum: Map<string, tf.Tensor>;
}

function isRunState(v: unknown): v is RunState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return typeof s['iteration'] === 'number' && typeof s['wallSeconds'] === 'number' && Array.isArray(s['dropoutRng']);
}

/** Load a run's checkpoint for resuming; the dataset's classes must be the run's. */
export async function loadRunCheckpoint(run: string, classNames: readonly string[]): Promise<LoadedRun> {
  const loaded = loadCheckpoint(runCheckpointDir(run));
  const file = join(loaded.dir, 'state.json');
  try {
    if (loaded.config.classNames.join('\n') !== classNames.join('\n')) {
      throw new SegError(
        `--resume ${run}: the run was trained on classes [${loaded.config.classNames.join(', ')}], --data has [${classNames.join(', ')}]; resume with the run's dataset`,
        '--data',
      );
    }
    if (!isRunState(loaded.trainingState)) throw new SegError(`${file}: missing or damaged resume state; this checkpoint can be evaluated but not resumed`, file);
    const trainConfig = loaded.config.training as unknown as TrainConfig;
    return { model: loaded.model, headSpec: loaded.headSpec, trainConfig, state: loaded.trainingState, momentum: loaded.optimizerState ?? new Map() };
  } catch (err) {
    loaded.model.dispose();
    if (loaded.optimizerState !== undefined) tf.dispose([...loaded.optimizerState.values()]);
    throw err;
  }
}
