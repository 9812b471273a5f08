/**
 * `train`: the training loop of seg. SGD with momentum, poly learning rate and weight decay
 * on a DeepLab model with one of the heads; a trace row per logging step and per evaluation
 * in `<out>/trace.jsonl`; checkpoints that resume exactly (weights, BN statistics, momentum,
 * iteration, data-loader and dropout RNG state). A non-finite loss stops the run and leaves
 * the last checkpoint intact; an abort signal (Ctrl-C in the CLI) saves before returning.
 */
import { mkdirSync } from 'node:fs';
import { tf } from '../engine/tf.js';
import { SegError } from '../core/errors.js';
import { createHead, type Head } from '../heads/head.js';
import { formatHeadSpec, parseHeadSpec, type HeadSpec } from '../heads/head-spec.js';
import { formatPercent } from '../metrics/metrics-format.js';
import type { SegMetrics } from '../metrics/segmentation-metrics.js';
import { Rng } from '../core/random.js';
import { createTrainLoader } from '../voc/batch-loader.js';
import { openDataset, type Dataset } from '../voc/dataset.js';
import { IMAGENET_NORMALIZATION } from '../voc/normalize.js';
import { evaluateModel } from '../inference/evaluate.js';
import { createModel, type SegmentationModel } from '../segmentation/model.js';
import { importPretrainedBackbone } from '../checkpoint/pretrained-import.js';
import { loadRunCheckpoint, saveRunCheckpoint, type RunState } from './run-checkpoint.js';
import { runCheckpointExists } from '../checkpoint/run-layout.js';
import { MomentumSgd, polyLearningRate } from './sgd.js';
import { TraceWriter, type EvalTraceRow, type TrainTraceRow } from './run-log.js';
import { validateTrainConfig, type TrainConfig } from './train-config.js';
import { trainStep } from './train-step.js';
import { round } from '../core/numbers.js';
import { cleanupQuietly } from '../core/cleanup.js';

export interface TrainHooks {
  /** Human-readable lines (start, evaluations, saves). */
  log?: (line: string) => void;
  /** Called after every iteration. */
  onStep?: (info: { iteration: number; iterations: number; loss: number; lr: number; trainAcc: number }) => void;
  onEval?: (row: EvalTraceRow) => void;
  /** Abort (e.g. SIGINT): the loop saves a checkpoint and returns with `interrupted`. */
  signal?: AbortSignal;
  /** Continue the run in `config.out` from its checkpoint. */
  resume?: boolean;
  /** The command line that started the run (recorded in the checkpoint). */
  commandLine?: readonly string[];
}

export interface TrainResult {
  out: string;
  iteration: number;
  interrupted: boolean;
  lastLoss: number;
  metrics?: SegMetrics;
  head: HeadSpec;
  model: SegmentationModel;
}

interface RunContext {
  config: TrainConfig;
  dataset: Dataset;
  head: Head;
  model: SegmentationModel;
  sgd: MomentumSgd;
  state: RunState;
}

async function startRun(config: TrainConfig, hooks: TrainHooks, log: (line: string) => void): Promise<RunContext> {
  const dataset = openDataset(config.data);
  const numClasses = dataset.classNames.length;
  const exists = runCheckpointExists(config.out);
  if (exists && hooks.resume !== true) {
    throw new SegError(
      `--out ${config.out} already holds a run; pass --resume to continue it, or choose another --out (nothing was overwritten)`,
      '--out',
    );
  }
  if (exists) {
    const saved = await loadRunCheckpoint(config.out, dataset.classNames);
    const headSpec = saved.headSpec;
    const sgd = new MomentumSgd(saved.model.params, { momentum: saved.trainConfig.momentum, weightDecay: saved.trainConfig.weightDecay });
    sgd.load(saved.momentum);
    tf.dispose([...saved.momentum.values()]);
    log(`resuming ${config.out} at iteration ${saved.state.iteration}`);
    const ignored = (Object.keys(saved.trainConfig) as (keyof TrainConfig)[]).filter(
      (k) => k !== 'out' && k !== 'data' && k !== 'head' && JSON.stringify(saved.trainConfig[k]) !== JSON.stringify(config[k]),
    );
    if (ignored.length > 0) {
      const what = ignored.map((k) => `${k} ${JSON.stringify(config[k])} (run: ${JSON.stringify(saved.trainConfig[k])})`).join(', ');
      log(`note: --resume continues with the run's own arguments; ignoring ${what}`);
    }
    return { config: { ...saved.trainConfig, out: config.out }, dataset, head: createHead(headSpec, numClasses), model: saved.model, sgd, state: saved.state };
  }
  if (hooks.resume === true) log(`--resume: ${config.out} holds no checkpoint yet; starting a new run`);
  const headSpec = parseHeadSpec(config.head, numClasses);
  const model = createModel(
    { backbone: config.backbone, outputStride: config.outputStride, width: config.width, numClasses, multiGrid: config.multiGrid },
    config.seed,
  );
  if (config.pretrained !== undefined) {
    const report = importPretrainedBackbone(model, config.pretrained);
    log(`pretrained ${config.pretrained}: ${report.loaded.length} tensors loaded, ${report.missing.length} missing, ${report.unexpected.length} unexpected`);
  }
  const sgd = new MomentumSgd(model.params, { momentum: config.momentum, weightDecay: config.weightDecay });
  const ids = dataset.listSplit(config.split);
  const state: RunState = {
    iteration: 0,
    wallSeconds: 0,
    loader: undefined,
    dropoutRng: new Rng(config.seed, 'dropout').state(),
    samples: ids.length,
  };
  return { config: { ...config, head: formatHeadSpec(headSpec) }, dataset, head: createHead(headSpec, numClasses), model, sgd, state };
}

/** Train (or resume) a run; see the module comment. */
export async function train(configIn: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? (() => undefined);
  validateTrainConfig(configIn);
  mkdirSync(configIn.out, { recursive: true });
  const run = await startRun(configIn, hooks, log);
  const { config, dataset, head, model, sgd, state } = run;
  const trace = new TraceWriter(config.out, state.iteration);
  const loader = createTrainLoader({
    dataset,
    split: config.split,
    batchSize: config.batch,
    crop: config.crop,
    seed: config.seed,
    ...(state.loader !== undefined ? { resumeFrom: state.loader } : {}),
  });
  const dropoutRng = Rng.fromState(state.dropoutRng);
  let lastLoss = Number.NaN;
  let lastMetrics: SegMetrics | undefined;
  let interrupted = false;
  let segmentStart = performance.now();
  const wall = (): number => state.wallSeconds + (performance.now() - segmentStart) / 1000;

  const save = async (): Promise<void> => {
    state.wallSeconds = wall();
    segmentStart = performance.now();
    state.loader = loader.state();
    state.dropoutRng = dropoutRng.state();
    await saveRunCheckpoint(config.out, {
      model,
      headSpec: head.spec,
      classNames: dataset.classNames,
      normalization: IMAGENET_NORMALIZATION,
      trainConfig: config,
      state,
      momentum: sgd.velocity,
      ...(lastMetrics !== undefined ? { metrics: lastMetrics } : {}),
      commandLine: hooks.commandLine ?? [],
    });
  };

  const evaluate = async (): Promise<void> => {
    const started = performance.now();
    const result = await evaluateModel(model, head, dataset, config.valSplit, config.evalLimit > 0 ? { limit: config.evalLimit } : {});
    lastMetrics = result.metrics;
    // Evaluation time is not training time: keep it out of wall_s.
    segmentStart += performance.now() - started;
    const row: EvalTraceRow = {
      type: 'eval',
      iter: state.iteration,
      wall_s: round(wall(), 3),
      val_miou: result.metrics.mIoU,
      val_aacc: result.metrics.aAcc,
      class_iou: Object.fromEntries(result.metrics.classes.map((c) => [c.name, c.iou])),
      images: result.images,
    };
    trace.append(row);
    hooks.onEval?.(row);
    log(`iteration ${state.iteration}: val mIoU ${formatPercent(result.metrics.mIoU)}% on ${result.images} images of '${config.valSplit}'`);
  };

  try {
    log(
      `training ${config.backbone} (output stride ${config.outputStride}, width ${config.width}) with head ${config.head} ` +
        `on ${dataset.root} '${config.split}', ${config.iters} iterations of batch ${config.batch} at ${config.crop}px`,
    );
    while (state.iteration < config.iters) {
      if (hooks.signal?.aborted === true) {
        interrupted = true;
        break;
      }
      const batch = await loader.nextBatch();
      const lr = polyLearningRate(config.lr, state.iteration, config.iters, config.polyPower);
      const step = await trainStep(model, head, sgd, batch, { lr, freezeBn: config.freezeBn, dropoutRng });
      if (!Number.isFinite(step.loss)) {
        throw new SegError(
          `iteration ${state.iteration + 1}: the loss is ${step.loss}; training stopped. The last checkpoint in ${config.out} ` +
            `is intact (resume with --resume). Try a lower --lr${head.spec.kind === 'egb' ? ' or a smaller egb alpha' : ''}.`,
        );
      }
      state.iteration += 1;
      lastLoss = step.loss;
      hooks.onStep?.({ iteration: state.iteration, iterations: config.iters, loss: step.loss, lr, trainAcc: step.pixelAccuracy });
      if (state.iteration % config.logEvery === 0 || state.iteration === config.iters) {
        const row: TrainTraceRow = {
          type: 'train',
          iter: state.iteration,
          wall_s: round(wall(), 3),
          loss: step.loss,
          lr,
          train_acc: step.pixelAccuracy,
        };
        trace.append(row);
      }
      const isLast = state.iteration === config.iters;
      if ((config.evalEvery > 0 && state.iteration % config.evalEvery === 0) || isLast) await evaluate();
      if ((config.saveEvery > 0 && state.iteration % config.saveEvery === 0) || isLast) await save();
    }
    if (interrupted) {
      await save();
      log(`interrupted: saved ${config.out} at iteration ${state.iteration}; continue with --resume`);
    }
  } catch (err) {
    cleanupQuietly(() => model.dispose());
    cleanupQuietly(() => sgd.dispose());
    throw err;
  } finally {
    loader.close();
  }
  sgd.dispose();
  return {
    out: config.out,
    iteration: state.iteration,
    interrupted,
    lastLoss,
    ...(lastMetrics !== undefined ? { metrics: lastMetrics } : {}),
    head: head.spec,
    model,
  };
}
