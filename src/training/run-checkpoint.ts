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
import type { LoaderState } from '../data-loading/types.js';
import type { Normalization } from '../data-loading/normalize.js';
import { loadCheckpoint, readCheckpointConfig, saveCheckpoint } from '../checkpoint/checkpoint.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { readTrainConfig, type TrainConfig } from './train-config.js';
import { runCheckpointDir, runCheckpointExists } from '../checkpoint/run-layout.js';

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

/**
 * What a stopped run leaves to continue from: "The last checkpoint in DIR (iteration N) is
 * intact (continue it with `resume`)", or that no checkpoint was saved yet, so there is
 * nothing to resume. Field names in backticks (the CLI shows flags).
 */
export function lastCheckpointNote(run: string, saveEvery: number): string {
  if (runCheckpointExists(run)) {
    let at = '';
    try {
      at = ` (iteration ${readCheckpointConfig(runCheckpointDir(run)).iteration})`;
    } catch {
      // a damaged config: the note stays without the iteration
    }
    return `The last checkpoint in ${run}${at} is intact (continue it with \`resume\`)`;
  }
  const why = saveEvery === 0 ? '`saveEvery` 0 and no evaluation before it' : 'none before the first `saveEvery` or evaluation';
  return `No checkpoint was saved yet (${why}): nothing to resume`;
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
  /** What an inexact resume (allowed by the caller) loses, one phrase each; empty when exact. */
  lost: string[];
}

export interface LoadRunOptions {
  /** Resume even when the optimizer state or the loader position is missing (the loss is reported in `lost`). */
  allowInexact?: boolean;
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

/** A tfjs-layout shape as the checkpoint file stores it (OIHW for conv kernels). */
function fileShape(shape: readonly number[]): string {
  const [h, w, i, o] = shape;
  return JSON.stringify(shape.length === 4 ? [o, i, h, w] : shape);
}

interface InexactPart {
  /** The file (and field) at fault and what is wrong with it. */
  part: string;
  file: string;
  lost: string;
  /** What an inexact resume does instead, as an order ("restart momentum at zero") and as a fact. */
  remedy: string;
  consequence: string;
}

/**
 * What keeps a resume from continuing exactly: a missing optimizer file or momentum buffer
 * (when momentum is used), or a missing loader position (after the first iteration). A
 * buffer of another shape is a damaged file, refused whatever the caller allows.
 */
function inexactParts(loaded: ReturnType<typeof loadCheckpoint>, state: RunState, trainConfig: TrainConfig): InexactPart[] {
  const parts: InexactPart[] = [];
  const optimizerFile = join(loaded.dir, 'optimizer.safetensors');
  const momentum = loaded.optimizerState;
  if (momentum !== undefined) {
    for (const [name, p] of loaded.model.params) {
      const v = momentum.get(name);
      if (v !== undefined && JSON.stringify(v.shape) !== JSON.stringify(p.shape)) {
        throw new SegError(
          `${optimizerFile}: the momentum buffer of ${name} has shape ${fileShape(v.shape)}, expected ${fileShape(p.shape)}; ` +
            'the file belongs to another model: the checkpoint is damaged',
          optimizerFile,
        );
      }
    }
  }
  if (state.iteration > 0 && trainConfig.optim.momentum !== 0) {
    const absent = momentum === undefined ? [] : [...loaded.model.params.keys()].filter((n) => !momentum.has(n));
    if (momentum === undefined || absent.length > 0) {
      parts.push({
        part:
          momentum === undefined
            ? `${optimizerFile}: missing`
            : `${optimizerFile}: no momentum buffer for ${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ` and ${absent.length - 3} more` : ''}`,
        file: optimizerFile,
        lost: 'the momentum buffers are lost',
        remedy: 'restart momentum at zero',
        consequence: 'momentum restarts at zero',
      });
    }
  }
  if (state.iteration > 0 && state.loader === undefined) {
    parts.push({
      part: `${join(loaded.dir, 'state.json')}: state.loader: missing`,
      file: join(loaded.dir, 'state.json'),
      lost: "the data loader's position is lost",
      remedy: "restart the batches at the first of the seed's order",
      consequence: "batches restart at the first of the seed's order",
    });
  }
  return parts;
}

/** Load a run's checkpoint for resuming. Every field read from disk is checked; a resume that cannot be exact is refused unless allowed. */
export async function loadRunCheckpoint(run: string, options: LoadRunOptions = {}): Promise<LoadedRun> {
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
    const trainConfig = readTrainConfig(loaded.config.training, loaded.config.formatVersion, { file: configFile, field: 'training' });
    if (state.iteration > trainConfig.schedule.iters) {
      throw new FieldError(
        'state.iteration',
        `got ${state.iteration}, past the run's ${trainConfig.schedule.iters} iterations; the checkpoint is damaged`,
        stateFile,
      );
    }
    const inexact = inexactParts(loaded, state, trainConfig);
    const first = inexact[0];
    if (first !== undefined && options.allowInexact !== true) {
      const all = inexact.map((p) => `${p.part}: ${p.lost}`).join('; ');
      throw new SegError(
        `${all}, so the resume cannot be exact. Resume with \`allowInexactResume\` to ${inexact.map((p) => p.remedy).join(' and ')}, ` +
          'or train a new run in another `out`',
        first.file,
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
      lost: inexact.map((p) => `${p.lost} (${p.consequence})`),
    };
  } catch (err) {
    loaded.model.dispose();
    if (loaded.optimizerState !== undefined) tf.dispose([...loaded.optimizerState.values()]);
    throw err;
  }
}
