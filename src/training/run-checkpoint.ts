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
import { arrayOf, fieldPath, FieldError, integer, number, object, optional, parse, type Schema } from '../core/schema.js';
import { tf } from '../engine/tf.js';
import type { LoaderState } from '../voc/types.js';
import type { Normalization } from '../voc/normalize.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { TRAIN_CONFIG_SCHEMA, type TrainConfig } from './train-config.js';
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
  classNames: readonly string[];
  trainConfig: TrainConfig;
  state: RunState;
  /** The last evaluation's metrics as saved. */
  metrics: Record<string, unknown> | null;
  /** Momentum buffers by parameter name; the caller disposes them. */
  momentum: Map<string, tf.Tensor>;
}

const UINT32 = integer({ min: 0, max: 2 ** 32 - 1 });
const RNG_STATE_SCHEMA = arrayOf(UINT32, { length: 4 }) as Schema<RngState>;

const LOADER_STATE_SCHEMA: Schema<LoaderState> = object<LoaderState>({
  seed: UINT32,
  epoch: integer({ min: 0 }),
  position: integer({ min: 0 }),
  rng: RNG_STATE_SCHEMA,
  samples: integer({ min: 1 }),
});

/** state.json's `state`: every field checked, so a damaged or hand-edited file names the field. */
export const RUN_STATE_SCHEMA: Schema<RunState> = object<RunState>(
  {
    iteration: integer({ min: 0 }),
    wallSeconds: number({ min: 0 }),
    loader: optional(LOADER_STATE_SCHEMA),
    dropoutRng: RNG_STATE_SCHEMA,
    samples: integer({ min: 1 }),
  },
  (s, field) => {
    if (s.loader !== undefined && s.loader.position > s.loader.samples) {
      throw new FieldError(fieldPath(field, 'loader.position'), `got ${s.loader.position}, past the split's ${s.loader.samples} samples`);
    }
  },
);

/** Load a run's checkpoint for resuming. Every field read from disk is checked. */
export async function loadRunCheckpoint(run: string): Promise<LoadedRun> {
  const loaded = loadCheckpoint(runCheckpointDir(run));
  const configFile = join(loaded.dir, 'config.json');
  const stateFile = join(loaded.dir, 'state.json');
  try {
    if (loaded.trainingState === undefined)
      throw new SegError(`${stateFile}: missing or damaged resume state; this checkpoint can be evaluated but not resumed`, stateFile);
    const state = parse(RUN_STATE_SCHEMA, loaded.trainingState, { file: stateFile, field: 'state' });
    if (state.iteration !== loaded.config.iteration) {
      throw new FieldError(
        'state.iteration',
        `got ${state.iteration}, but config.json says iteration ${loaded.config.iteration}; the checkpoint is damaged`,
        stateFile,
      );
    }
    const trainConfig = parse(TRAIN_CONFIG_SCHEMA, loaded.config.training, { file: configFile, field: 'training' });
    if (state.iteration > trainConfig.iters) {
      throw new FieldError(
        'state.iteration',
        `got ${state.iteration}, past the run's ${trainConfig.iters} iterations; the checkpoint is damaged`,
        stateFile,
      );
    }
    return {
      model: loaded.model,
      headSpec: loaded.headSpec,
      classNames: loaded.config.classNames,
      trainConfig,
      state,
      momentum: loaded.optimizerState ?? new Map(),
      metrics: loaded.config.metrics,
    };
  } catch (err) {
    loaded.model.dispose();
    if (loaded.optimizerState !== undefined) tf.dispose([...loaded.optimizerState.values()]);
    throw err;
  }
}
