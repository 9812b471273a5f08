/** A run ready to train: a new one (model from the seed, optional pretrained backbone) or one resumed from its checkpoint. */
import { tf } from '../engine/tf.js';
import { SegError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { createHead, type Head } from '../heads/head.js';
import { formatHeadSpec, parseHeadSpec } from '../heads/head-spec.js';
import { openDataset, type Dataset } from '../voc/dataset.js';
import { createModel, type SegmentationModel } from '../segmentation/model.js';
import { importPretrainedBackbone } from '../checkpoint/pretrained-import.js';
import { runCheckpointExists } from '../checkpoint/run-layout.js';
import { loadRunCheckpoint, type RunState } from './run-checkpoint.js';
import { MomentumSgd } from './sgd.js';
import type { TrainConfig } from './train-config.js';

export interface RunStart {
  config: TrainConfig;
  dataset: Dataset;
  head: Head;
  model: SegmentationModel;
  sgd: MomentumSgd;
  state: RunState;
}

export async function startRun(config: TrainConfig, resume: boolean, log: (line: string) => void): Promise<RunStart> {
  const dataset = openDataset(config.data);
  const numClasses = dataset.classNames.length;
  const exists = runCheckpointExists(config.out);
  if (exists && !resume) {
    throw new SegError(
      `--out ${config.out} already holds a run; pass --resume to continue it, or choose another --out (nothing was overwritten)`,
      '--out',
    );
  }
  if (exists) {
    const saved = await loadRunCheckpoint(config.out, dataset.classNames);
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
    const head = createHead(saved.headSpec, numClasses);
    return { config: { ...saved.trainConfig, out: config.out }, dataset, head, model: saved.model, sgd, state: saved.state };
  }
  if (resume) log(`--resume: ${config.out} holds no checkpoint yet; starting a new run`);
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
  const state: RunState = {
    iteration: 0,
    wallSeconds: 0,
    loader: undefined,
    dropoutRng: new Rng(config.seed, 'dropout').state(),
    samples: dataset.listSplit(config.split).length,
  };
  return { config: { ...config, head: formatHeadSpec(headSpec) }, dataset, head: createHead(headSpec, numClasses), model, sgd, state };
}
