/** Shared by training tests: the settings of a tiny run, and a run's saved weights. */
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { train } from '../../src/training/trainer.js';
import { DEFAULT_TRAIN_CONFIG, nestTrainConfig, type FlatTrainConfig, type TrainConfig } from '../../src/training/train-config.js';

/** A ResNet-18 width 0.125 run at 32 px, batch 2, in `root/out`; `overrides` (by flat name) on top. */
export function tinyRunConfig(data: string, root: string, out: string, overrides: Partial<FlatTrainConfig> = {}): TrainConfig {
  return nestTrainConfig(tinyRunSettings(data, root, out, overrides));
}

/** tinyRunConfig by flat name. */
export function tinyRunSettings(data: string, root: string, out: string, overrides: Partial<FlatTrainConfig> = {}): FlatTrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    out: join(root, out),
    head: 'softmax',
    backbone: 'resnet18',
    width: 0.125,
    crop: 32,
    batch: 2,
    iters: 10,
    lr: 0.01,
    saveEvery: 0,
    evalEvery: 0,
    evalLimit: 1,
    logEvery: 1,
    seed: 1,
    ...overrides,
  };
}

/** train() on settings by flat name (the tests' configs). */
export const trainFlat = (c: FlatTrainConfig, hooks?: Parameters<typeof train>[1]): ReturnType<typeof train> =>
  train(nestTrainConfig(c), hooks);

/** Every parameter and buffer of the run's checkpoint, by name. */
export async function runWeights(run: string): Promise<Map<string, Float32Array>> {
  const loaded = loadCheckpoint(runCheckpointDir(run), { optimizer: false });
  const out = new Map<string, Float32Array>();
  for (const [name, v] of [...loaded.model.params, ...loaded.model.buffers]) out.set(name, (await v.data()) as Float32Array);
  loaded.model.dispose();
  return out;
}

/**
 * Trains `config('straight')` to its end, and `config('split')` stopped after `stopAt`
 * iterations (as by Ctrl-C) and resumed to the end; returns both runs' folders. The resumed
 * run evaluates its final model (evalEvery 0), which is checked too.
 */
export async function straightAndResumedRuns(
  config: (out: string) => FlatTrainConfig,
  stopAt = 2,
): Promise<{ straight: string; split: string }> {
  (await train(nestTrainConfig(config('straight')))).model.dispose();
  const controller = new AbortController();
  const half = await train(nestTrainConfig(config('split')), {
    signal: controller.signal,
    onStep: (s) => {
      if (s.iteration === stopAt) controller.abort();
    },
  });
  half.model.dispose();
  if (half.iteration !== stopAt) throw new Error(`the split run stopped at ${half.iteration}, not ${stopAt}`);
  const resumed = await train(nestTrainConfig(config('split')), { resume: true, given: ['out'] });
  resumed.model.dispose();
  if (resumed.metrics === undefined) throw new Error('the resumed run did not evaluate its final model');
  return { straight: config('straight').out, split: config('split').out };
}
