/**
 * A run ready to train: a new one (model from the seed, optional pretrained backbone) or one
 * resumed from its checkpoint. Everything that could fail later is checked here, before the
 * first step: every setting, the dataset and both splits, the checkpoint folder, and the
 * lock on the run folder.
 */
import { existsSync } from 'node:fs';
import { tf } from '../engine/tf.js';
import { Rng } from '../core/random.js';
import { lockRunFolder, type RunLock } from '../core/run-lock.js';
import { makeFolder } from '../core/folders.js';
import { FieldError } from '../core/schema.js';
import { createHead, type Head } from '../heads/head.js';
import { formatHeadSpec, parseHeadSpec } from '../heads/head-spec.js';
import type { Dataset } from '../datasets/dataset.js';
import { openDataset } from '../datasets/open-dataset.js';
import { checkDataset } from '../datasets/dataset-check.js';
import { createModel, type SegmentationModel } from '../segmentation/model.js';
import { checkCheckpointFolder } from '../checkpoint/checkpoint.js';
import { importPretrainedBackbone } from '../checkpoint/pretrained-import.js';
import { runBestDir, runCheckpointDir, runCheckpointExists } from '../checkpoint/run-layout.js';
import { loadRunCheckpoint, type RunState } from './run-checkpoint.js';
import { describeResumePlan, planResume, type ResumePlan, type TrainField } from './resume-plan.js';
import { MomentumSgd } from './sgd.js';
import { runModelConfig, validateTrainConfig, type TrainConfig } from './train-config.js';
import { createTrainLoader } from '../data-loading/batch-loader.js';
import type { TrainRun } from './hooks/train-hook.js';
import { WallClock } from './wall-clock.js';

interface RunParts {
  config: TrainConfig;
  dataset: Dataset;
  head: Head;
  model: SegmentationModel;
  sgd: MomentumSgd;
  state: RunState;
  lock: RunLock;
  /** Set when resuming. */
  resumed?: ResumePlan;
  /** The last evaluation's metrics saved in a resumed run's checkpoint. */
  savedMetrics?: Record<string, unknown> | null;
}

/** A run ready for its first step; the caller closes the loader, disposes the optimizer and releases the lock. */
export interface RunStart extends TrainRun {
  readonly lock: RunLock;
  readonly savedMetrics?: Record<string, unknown> | null;
}

export interface StartOptions {
  resume: boolean;
  /** Fields set on purpose (compared with a resumed run's); undefined: all. */
  given?: readonly TrainField[];
  /** Resume a checkpoint that lacks its optimizer state or loader position (what is lost is logged). */
  allowInexactResume?: boolean;
  log: (line: string) => void;
}

/** The split's ids; a missing split is an error about `field`. */
function splitIds(dataset: Dataset, split: string, field: TrainField): string[] {
  if (dataset.listFile(split) === undefined) {
    const have = dataset.splits();
    throw new FieldError(
      field,
      `got '${split}', expected one of ${have.length > 0 ? have.join(', ') : '(none: the dataset has no split lists)'} (split lists of ${dataset.root})`,
    );
  }
  return dataset.listSplit(split);
}

/** The val images the run will evaluate, read once now, so a bad one stops the run before it trains, not after. */
async function checkValSplit(dataset: Dataset, config: TrainConfig): Promise<void> {
  splitIds(dataset, config.data.valSplit, 'valSplit');
  const report = await checkDataset(dataset, config.data.valSplit, config.data.evalLimit > 0 ? { limit: config.data.evalLimit } : {});
  const first = report.problems[0];
  if (first !== undefined) {
    const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more problems; see \`seg data check\`)` : '';
    throw new FieldError('valSplit', `'${config.data.valSplit}' cannot be evaluated: ${first.file}: ${first.problem}${more}`);
  }
}

function checkClasses(dataset: Dataset, classNames: readonly string[], out: string): void {
  if (dataset.classNames.join('\n') === classNames.join('\n')) return;
  throw new FieldError(
    'data',
    `the run in ${out} was trained on classes [${classNames.join(', ')}], ${dataset.root} has [${dataset.classNames.join(', ')}]; resume with the run's dataset`,
  );
}

/** planResume, with a refused head shown as it was given (e.g. `egb`) besides its full form. */
function planWithTypedHead(
  saved: TrainConfig,
  config: TrainConfig,
  typedHead: string,
  given: readonly TrainField[] | undefined,
): ResumePlan {
  try {
    return planResume(saved, config, given);
  } catch (err) {
    if (err instanceof FieldError && err.field === 'head' && typedHead !== config.model.head) {
      throw new FieldError(
        'head',
        err.problem.replace(`got ${JSON.stringify(config.model.head)}`, `got ${JSON.stringify(typedHead)} (${config.model.head})`),
      );
    }
    throw err;
  }
}

async function resumeRun(config: TrainConfig, options: StartOptions, lock: RunLock): Promise<RunParts> {
  const saved = await loadRunCheckpoint(config.run.out, { allowInexact: options.allowInexactResume === true });
  try {
    const typed = config.model.head;
    const head = typed === '' ? saved.trainConfig.model.head : formatHeadSpec(parseHeadSpec(typed, saved.classNames.length));
    const plan = planWithTypedHead(saved.trainConfig, { ...config, model: { ...config.model, head } }, typed, options.given);
    const merged = validateTrainConfig(plan.config);
    const dataset = openDataset(merged.data.root, merged.data.layout);
    checkClasses(dataset, saved.classNames, config.run.out);
    await checkValSplit(dataset, merged);
    const sgd = new MomentumSgd(saved.model.params, { momentum: merged.optim.momentum, weightDecay: merged.optim.weightDecay });
    sgd.load(saved.momentum);
    tf.dispose([...saved.momentum.values()]);
    options.log(`resuming ${config.run.out} at iteration ${saved.state.iteration} of ${merged.schedule.iters}`);
    for (const lost of saved.lost) options.log(`inexact resume: ${lost}`);
    for (const line of describeResumePlan(plan)) options.log(line);
    return {
      config: merged,
      dataset,
      head: createHead(saved.headSpec, saved.classNames.length),
      model: saved.model,
      sgd,
      state: saved.state,
      lock,
      resumed: plan,
      savedMetrics: saved.metrics,
    };
  } catch (err) {
    saved.model.dispose();
    tf.dispose([...saved.momentum.values()]);
    throw err;
  }
}

async function newRun(configIn: TrainConfig, options: StartOptions, lock: RunLock): Promise<RunParts> {
  const config = validateTrainConfig(configIn);
  const dataset = openDataset(config.data.root, config.data.layout);
  const numClasses = dataset.classNames.length;
  const samples = splitIds(dataset, config.data.split, 'split').length;
  await checkValSplit(dataset, config);
  const headSpec = parseHeadSpec(config.model.head, numClasses);
  const model = createModel(runModelConfig(config.model, numClasses), config.run.seed);
  try {
    if (config.model.pretrained !== undefined) {
      const report = importPretrainedBackbone(model, config.model.pretrained);
      options.log(
        `pretrained ${config.model.pretrained}: ${report.loaded.length} tensors loaded, ${report.missing.length} missing, ${report.unexpected.length} unexpected`,
      );
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  const sgd = new MomentumSgd(model.params, { momentum: config.optim.momentum, weightDecay: config.optim.weightDecay });
  const state: RunState = {
    iteration: 0,
    wallSeconds: 0,
    loader: undefined,
    dropoutRng: new Rng(config.run.seed, 'dropout').state(),
    samples,
  };
  return {
    config: { ...config, model: { ...config.model, head: formatHeadSpec(headSpec) } },
    dataset,
    head: createHead(headSpec, numClasses),
    model,
    sgd,
    state,
    lock,
  };
}

/**
 * A resume of a folder without a checkpoint (empty, missing, or a run stopped before its first
 * save) starts a new run when the dataset is given; without it there is nothing to go on.
 */
export function checkResumeTarget(config: { data: Pick<TrainConfig['data'], 'root'>; run: Pick<TrainConfig['run'], 'out'> }): void {
  if (config.data.root !== '' || runCheckpointExists(config.run.out)) return;
  const what = existsSync(config.run.out) ? 'holds no checkpoint' : 'does not exist';
  throw new FieldError(
    'out',
    `${config.run.out}: ${what}: there is no checkpoint to resume (a run stopped before its first save has none); ` +
      'start a new run with `data` DIR',
  );
}

/** Lock the run folder, check everything, and build or load the run. The caller releases `lock`. */
export async function startRun(config: TrainConfig, options: StartOptions): Promise<RunStart> {
  if (config.run.out === '') throw new FieldError('out', 'expected a run folder');
  if (options.resume) checkResumeTarget(config);
  // A new run's settings are checked before its folder is made.
  if (!runCheckpointExists(config.run.out)) validateTrainConfig(config);
  makeFolder(config.run.out, '`out`');
  const lock = lockRunFolder(config.run.out);
  try {
    // A foreign file would make every save fail: found now, not after training.
    checkCheckpointFolder(runCheckpointDir(config.run.out));
    checkCheckpointFolder(runBestDir(config.run.out));
    const exists = runCheckpointExists(config.run.out);
    if (exists && !options.resume) {
      throw new FieldError(
        'out',
        `${config.run.out} already holds a run; continue it with \`resume\`, or choose another \`out\` (nothing was overwritten)`,
      );
    }
    if (!exists && options.resume) options.log(`resume: ${config.run.out} holds no checkpoint yet; starting a new run`);
    return withLoader(exists ? await resumeRun(config, options, lock) : await newRun(config, options, lock));
  } catch (err) {
    lock.release();
    throw err;
  }
}

function withLoader(parts: RunParts): RunStart {
  const { config, state } = parts;
  try {
    const loader = createTrainLoader({
      dataset: parts.dataset,
      split: config.data.split,
      batchSize: config.data.batch,
      crop: config.data.crop,
      seed: config.run.seed,
      ...(config.data.photometric ? { augment: { photometric: true } } : {}),
      ...(state.loader !== undefined ? { resumeFrom: state.loader } : {}),
    });
    return { ...parts, loader, dropoutRng: Rng.fromState(state.dropoutRng), clock: new WallClock(state.wallSeconds) };
  } catch (err) {
    parts.model.dispose();
    parts.sgd.dispose();
    throw err;
  }
}
