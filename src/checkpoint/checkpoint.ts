/**
 * Checkpoints: one directory per checkpoint,
 *
 *   config.json             what the model is and where it came from (checkpoint-config.ts)
 *   model.safetensors       params + BN buffers under torchvision names, conv kernels OIHW,
 *                           plus `<bn>.num_batches_tracked` (I64): a torchvision
 *                           DeepLabV3(num_classes=K, aux_loss=False) loads it with strict=True
 *                           (aux_loss=True with the config's `auxClassifier`); loading is
 *                           strict too: a tensor the model lacks is refused
 *   optimizer.safetensors   (resumable checkpoints) optimizer state, e.g. momentum buffers
 *                           keyed by param name; rank-4 tensors OIHW like the weights
 *   state.json              (resumable checkpoints) iteration and free-form training state
 *                           (RNG states, data order position, ...)
 *
 * Saving is atomic at the directory level: everything is written into `<dir>.partial-<pid>`;
 * then an existing `<dir>` moves to `<dir>.previous`, the new one takes its name and the
 * previous one is deleted. A crash leaves either the old or the new checkpoint complete
 * (loading falls back to `<dir>.previous` if `<dir>` is missing). Because the directory is
 * replaced, it must hold nothing but checkpoint files: saving refuses a directory with
 * other files in it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../backend/tf.js';
import { activeAdapter } from '../backend/select-backend.js';
import { readSafetensors, toFloat32, writeSafetensors, type SafeTensor, type WritableTensor } from './safetensors.js';
import { SegError } from '../core/errors.js';
import { ioReason, syncDirectory, WriteError, writeJsonAtomic } from '../core/durable-files.js';
import { formatHeadSpec, parseHeadSpec, type HeadSpec } from '../heads/head-spec.js';
import { PACKAGE_VERSION } from '../core/version.js';
import type { Normalization } from '../data-loading/normalize.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import { createModelWithWeights, modelBatchNormLayers, modelWeightSpecs, type SegmentationModel } from '../segmentation/model.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointConfig,
  checkModelMatches,
  describeModelConfig,
  readJsonFile,
  validateCheckpointConfig,
} from './checkpoint-config.js';
import { formatShape, hwioToOihw, oihwToHwio, sameShape, tfjsShape, torchShape } from './weight-layout.js';

export const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json'] as const;

export interface SaveCheckpointOptions {
  model: SegmentationModel;
  head: HeadSpec;
  classNames: readonly string[];
  normalization: Normalization;
  iteration: number;
  /** Training arguments to record (free-form, JSON). */
  trainingArgs?: Record<string, unknown>;
  /** The last evaluation's metrics (JSON). */
  metrics?: Record<string, unknown> | null;
  /** The command line that made it (default: none recorded). */
  commandLine?: string | readonly string[];
  /** Optimizer state by name (tfjs layout); saved to optimizer.safetensors. */
  optimizerState?: ReadonlyMap<string, tf.Tensor>;
  /** JSON-serialisable training state (RNG states, ...); saved to state.json. */
  trainingState?: unknown;
}

export interface LoadedCheckpoint {
  /** The directory actually read (may be `<dir>.previous` after an interrupted save). */
  dir: string;
  config: CheckpointConfig;
  headSpec: HeadSpec;
  model: SegmentationModel;
  /** Present when the checkpoint has optimizer.safetensors and `optimizer` was requested. */
  optimizerState?: Map<string, tf.Tensor>;
  /** state.json's `state`, when present. */
  trainingState?: unknown;
}

export interface LoadCheckpointOptions {
  /** The model the caller wants: any differing field is a SegError naming both sides. */
  expect?: Partial<ModelConfig>;
  /** Also load optimizer.safetensors (default true). */
  optimizer?: boolean;
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function commandLineText(value: string | readonly string[] | undefined): string {
  if (typeof value === 'string') return value;
  // The library never reads process.argv: the CLI passes its command line in.
  return (value ?? []).map(quoteArg).join(' ');
}

/** The model's weights as torchvision tensors (OIHW), with num_batches_tracked (read with `await data()`). */
export async function modelStateDict(model: SegmentationModel): Promise<Map<string, WritableTensor>> {
  const out = new Map<string, WritableTensor>();
  for (const w of modelWeightSpecs(model)) {
    const v = (w.role === 'param' ? model.params : model.buffers).get(w.name);
    if (v === undefined) throw new Error(`model has no weight ${w.name}`);
    out.set(w.name, { shape: torchShape(w.shape), data: hwioToOihw((await v.data()) as Float32Array, w.shape) });
  }
  for (const bn of modelBatchNormLayers(model)) {
    out.set(`${bn.name}.num_batches_tracked`, { shape: [], data: BigInt64Array.of(BigInt(model.batchesTracked)) });
  }
  return out;
}

async function tensorState(tensors: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, WritableTensor>> {
  const out = new Map<string, WritableTensor>();
  for (const [name, t] of tensors) {
    const data = t.dtype === 'int32' || t.dtype === 'float32' ? ((await t.data()) as Int32Array | Float32Array) : null;
    if (data === null) throw new Error(`saveCheckpoint: optimizer tensor ${name} has dtype ${t.dtype}, expected float32 or int32`);
    out.set(name, { shape: torchShape(t.shape), data: hwioToOihw(data, t.shape) });
  }
  return out;
}

/**
 * Refuse a checkpoint directory that holds anything but checkpoint files (saving replaces
 * the whole directory). True when `dir` exists; callers check before long work, not only
 * at save time.
 */
export function checkCheckpointFolder(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return false;
  }
  if (!stat.isDirectory()) throw new SegError(`${dir} exists and is not a directory; choose another checkpoint path`, dir);
  const known: readonly string[] = CHECKPOINT_FILES;
  const foreign = fs.readdirSync(dir).filter((f) => !known.includes(f));
  if (foreign.length > 0) {
    throw new SegError(
      `${dir} holds files that are not part of a seg checkpoint (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}); ` +
        'saving replaces the whole directory, so choose an empty or checkpoint-only directory',
      dir,
    );
  }
  return true;
}

/** The config.json a save writes (exported for inspection and tests). */
export function checkpointConfig(options: SaveCheckpointOptions): CheckpointConfig {
  const { model } = options;
  if (options.classNames.length !== model.config.numClasses) {
    throw new SegError(`saveCheckpoint: ${options.classNames.length} class names for a ${model.config.numClasses}-class model`);
  }
  return {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    model: { ...model.config },
    classNames: [...options.classNames],
    head: formatHeadSpec(options.head),
    normalization: { mean: [...options.normalization.mean], std: [...options.normalization.std] },
    training: options.trainingArgs ?? {},
    iteration: options.iteration,
    metrics: options.metrics ?? null,
    packageVersion: PACKAGE_VERSION,
    commandLine: commandLineText(options.commandLine),
    savedAt: new Date().toISOString(),
    weightLayout: 'OIHW',
    backend: { name: tf.getBackend(), adapter: activeAdapter() ?? null },
  };
}

/** Save a checkpoint into directory `dir`, atomically (see the module comment). */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const target = path.resolve(dir);
  const config = checkpointConfig(options);
  const exists = checkCheckpointFolder(target);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  const previous = `${target}.previous`;
  // Leftovers of saves that crashed while writing (one writer per checkpoint is assumed).
  const stalePrefix = `${path.basename(target)}.partial-`;
  for (const entry of fs.readdirSync(path.dirname(target))) {
    if (entry.startsWith(stalePrefix)) fs.rmSync(path.join(path.dirname(target), entry), { recursive: true, force: true });
  }
  // Every tensor is read (asynchronously) before anything is written.
  const modelState = await modelStateDict(options.model);
  const optimizerState = options.optimizerState !== undefined ? await tensorState(options.optimizerState) : undefined;
  try {
    fs.mkdirSync(partial);
    const metadata = { format: 'pt', producer: `seg ${PACKAGE_VERSION}`, layout: 'OIHW' };
    writeSafetensors(path.join(partial, 'model.safetensors'), modelState, metadata);
    if (optimizerState !== undefined) writeSafetensors(path.join(partial, 'optimizer.safetensors'), optimizerState, metadata);
    if (options.trainingState !== undefined)
      writeJsonAtomic(path.join(partial, 'state.json'), { iteration: options.iteration, state: options.trainingState });
    // config.json last: a directory with it is complete.
    writeJsonAtomic(path.join(partial, 'config.json'), config);
    syncDirectory(partial);
    if (exists) {
      fs.rmSync(previous, { recursive: true, force: true });
      fs.renameSync(target, previous);
    }
    fs.renameSync(partial, target);
  } catch (err) {
    try {
      fs.rmSync(partial, { recursive: true, force: true });
    } catch {
      // the first error is the one to report
    }
    throw saveError(target, err);
  }
  syncDirectory(path.dirname(target));
  fs.rmSync(previous, { recursive: true, force: true });
}

/**
 * A failed save as a SegError: the file, the reason, and that the previous checkpoint is
 * intact (in `dir`, or in `<dir>.previous` if the swap was cut, where loading finds it).
 */
function saveError(dir: string, err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof WriteError) && typeof code !== 'string') return err;
  const file = err instanceof WriteError ? err.file : ((err as { path?: string }).path ?? dir);
  const reason = err instanceof WriteError ? err.reason : ioReason(err);
  return new WriteError(
    file,
    reason,
    `the checkpoint was not saved; the previous checkpoint in ${dir} is intact (fix the disk, then resume)`,
  );
}

/** The directory holding a complete checkpoint: `dir`, or `<dir>.previous` left by a save interrupted mid-swap; undefined if neither. */
function completeCheckpointDir(dir: string): string | undefined {
  const target = path.resolve(dir);
  if (fs.existsSync(path.join(target, 'config.json'))) return target;
  const previous = `${target}.previous`;
  if (!fs.existsSync(target) && fs.existsSync(path.join(previous, 'config.json'))) return previous;
  return undefined;
}

/** True when `dir` (or its `.previous` after an interrupted save) holds a complete checkpoint. */
export function checkpointExists(dir: string): boolean {
  return completeCheckpointDir(dir) !== undefined;
}

/** The directory to read: `dir`, or `<dir>.previous` left by a save interrupted mid-swap. */
export function resolveCheckpointDir(dir: string): string {
  const complete = completeCheckpointDir(dir);
  if (complete !== undefined) return complete;
  const target = path.resolve(dir);
  if (!fs.existsSync(target)) throw new SegError(`${dir}: no such checkpoint directory`, dir);
  throw new SegError(`${dir}: not a seg checkpoint (no config.json); point to a directory written by seg train`, dir);
}

/** Read and check a checkpoint's config.json. */
export function readCheckpointConfig(dir: string): CheckpointConfig {
  const file = path.join(resolveCheckpointDir(dir), 'config.json');
  return validateCheckpointConfig(readJsonFile(file), file);
}

/** Indices of the first non-finite value, or -1. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i] as number)) return i;
  return -1;
}

/** The SegError for weights with NaN or infinite values: a diverged run's checkpoint. */
export function nonFiniteWeightsError(where: string, names: readonly string[]): SegError {
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
  return new SegError(
    `${where}: ${names.length} weight tensor${names.length === 1 ? ' has' : 's have'} non-finite values (${shown}); the run diverged. ` +
      'Use an earlier checkpoint, or train again with a lower learning rate',
    where,
  );
}

/** Tensor of a torchvision state dict, checked against the model's shape, in tfjs layout. */
function fromStateDict(file: string, tensors: Map<string, SafeTensor>, name: string, shape: readonly number[]): Float32Array {
  const t = tensors.get(name);
  if (t === undefined) throw new SegError(`${file}: missing ${name}; the checkpoint is incomplete or for another model`, file);
  const expected = torchShape(shape);
  if (!sameShape(t.shape, expected)) {
    throw new SegError(`${file}: ${name} has shape ${formatShape(t.shape)}, the model expects ${formatShape(expected)}`, file);
  }
  return oihwToHwio(toFloat32(t), t.shape);
}

function readOptimizerState(file: string): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of readSafetensors(file).tensors) {
    const data = t.data instanceof Int32Array ? t.data : toFloat32(t);
    out.set(name, tf.tensor(oihwToHwio(data, t.shape), tfjsShape(t.shape), data instanceof Int32Array ? 'int32' : 'float32'));
  }
  return out;
}

/**
 * Strict loading, as torch's load_state_dict(strict=True): a tensor the model has no place
 * for (e.g. `aux_classifier.*` in a checkpoint whose config has no aux classifier) is refused.
 */
function checkNoUnexpected(file: string, tensors: Map<string, SafeTensor>, model: SegmentationModel): void {
  const known = new Set(modelWeightSpecs(model).map((w) => w.name));
  for (const bn of modelBatchNormLayers(model)) known.add(`${bn.name}.num_batches_tracked`);
  const unexpected = [...tensors.keys()].filter((name) => !known.has(name));
  if (unexpected.length === 0) return;
  const shown = unexpected.slice(0, 5).join(', ') + (unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : '');
  const aux = unexpected.some((n) => n.startsWith('aux_classifier.'))
    ? ' (aux_classifier.* needs "auxClassifier": true in the model of config.json)'
    : '';
  throw new SegError(
    `${file}: ${unexpected.length} tensor${unexpected.length === 1 ? '' : 's'} the ${describeModelConfig(model.config)} model does not have: ${shown}${aux}; ` +
      'the checkpoint is for another model',
    file,
  );
}

function batchesTrackedOf(tensors: Map<string, SafeTensor>, model: SegmentationModel): number {
  const first = modelBatchNormLayers(model)[0];
  const t = first === undefined ? undefined : tensors.get(`${first.name}.num_batches_tracked`);
  return t === undefined ? 0 : Number(toFloat32(t)[0] ?? 0);
}

/**
 * Load a checkpoint directory: config, a model with its weights, and the resume state.
 * Internal to the library: callers use loadTrainedModel (inference) or loadRunCheckpoint
 * (resuming a run).
 */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): LoadedCheckpoint {
  const actual = resolveCheckpointDir(dir);
  const configFile = path.join(actual, 'config.json');
  const config = validateCheckpointConfig(readJsonFile(configFile), configFile);
  if (options.expect !== undefined) checkModelMatches(config.model, options.expect, dir);
  let headSpec: HeadSpec;
  try {
    headSpec = parseHeadSpec(config.head, config.model.numClasses);
  } catch (err) {
    throw new SegError(`${configFile}: bad "head": ${err instanceof Error ? err.message : String(err)}`, configFile);
  }
  const modelFile = path.join(actual, 'model.safetensors');
  const { tensors } = readSafetensors(modelFile);
  const nonFinite: string[] = [];
  const model = createModelWithWeights(config.model, (w) => {
    const data = fromStateDict(modelFile, tensors, w.name, w.shape);
    if (firstNonFinite(data) >= 0) nonFinite.push(w.name);
    return data;
  });
  if (nonFinite.length > 0) {
    model.dispose();
    throw nonFiniteWeightsError(modelFile, nonFinite);
  }
  try {
    checkNoUnexpected(modelFile, tensors, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  model.batchesTracked = batchesTrackedOf(tensors, model);
  const result: LoadedCheckpoint = { dir: actual, config, headSpec, model };
  try {
    const optimizerFile = path.join(actual, 'optimizer.safetensors');
    if ((options.optimizer ?? true) && fs.existsSync(optimizerFile)) result.optimizerState = readOptimizerState(optimizerFile);
    const stateFile = path.join(actual, 'state.json');
    if (fs.existsSync(stateFile)) {
      const state = readJsonFile(stateFile);
      if (typeof state === 'object' && state !== null && 'state' in state) result.trainingState = (state as { state: unknown }).state;
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return result;
}

/**
 * Internal (tests, tools): load a checkpoint's weights into an existing model (e.g. one built from flags). A model
 * of another backbone, output stride, width, class count or multi-grid setting is a
 * SegError naming both sides. Returns the checkpoint's config.
 */
export function loadCheckpointInto(model: SegmentationModel, dir: string): CheckpointConfig {
  const actual = resolveCheckpointDir(dir);
  const configFile = path.join(actual, 'config.json');
  const config = validateCheckpointConfig(readJsonFile(configFile), configFile);
  checkModelMatches(config.model, { auxClassifier: undefined, decoder: undefined, ...model.config }, dir);
  const modelFile = path.join(actual, 'model.safetensors');
  const { tensors } = readSafetensors(modelFile);
  // Check every tensor before changing any weight.
  checkNoUnexpected(modelFile, tensors, model);
  const values = modelWeightSpecs(model).map((w) => [w, fromStateDict(modelFile, tensors, w.name, w.shape)] as const);
  const nonFinite = values.filter(([, data]) => firstNonFinite(data) >= 0).map(([w]) => w.name);
  if (nonFinite.length > 0) throw nonFiniteWeightsError(modelFile, nonFinite);
  for (const [w, data] of values) {
    const v = (w.role === 'param' ? model.params : model.buffers).get(w.name) as tf.Variable;
    tf.tidy(() => v.assign(tf.tensor(data, w.shape, 'float32')));
  }
  model.batchesTracked = batchesTrackedOf(tensors, model);
  return config;
}

/** Record an evaluation's metrics in a saved checkpoint's config.json (one atomic file rewrite; the weights stay). */
export function recordCheckpointMetrics(dir: string, metrics: Record<string, unknown>): void {
  const file = path.join(resolveCheckpointDir(dir), 'config.json');
  const config = validateCheckpointConfig(readJsonFile(file), file);
  writeJsonAtomic(file, { ...config, metrics });
}
