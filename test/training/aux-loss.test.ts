/**
 * torchvision's aux classifier (an FCNHead on layer3) trained with `--aux-loss W`: the
 * model's aux logits, the train step's gradient of main + W x aux (every head: checked by
 * finite differences of the surrogate the head's gradient rule defines), and runs that
 * save, resume and evaluate with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from './tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { createHead } from '../../src/heads/head.js';
import { parseHeadSpec } from '../../src/heads/head-spec.js';
import { runLayers } from '../../src/nn/layer-forward.js';
import type { SequentialSpec } from '../../src/nn/layer-spec.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import { MomentumSgd } from '../../src/training/sgd.js';
import { trainStep } from '../../src/training/train-step.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { straightAndResumedRuns } from './tiny-run.js';
import type { Batch } from '../../src/data-loading/types.js';
import {
  expectUpdateIsGradient,
  finiteDifferences,
  probeValues,
  randomBatch as batchOf,
  randomisedModel as randomised,
} from './gradient-check.js';

const CONFIG: ModelConfig = { backbone: 'resnet18', outputStride: 8, width: 0.125, numClasses: 3, multiGrid: false, auxClassifier: true };
const [N, H, W] = [2, 21, 27];
const AUX_WEIGHT = 0.5;

const randomBatch = (seed: number): Batch => batchOf(seed, CONFIG.numClasses, [N, H, W]);
const randomisedModel = (seed: number): SegmentationModel => randomised(CONFIG, seed, ['classifier.4.weight', 'aux_classifier.4.weight']);

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  dir = mkdtempSync(join(tmpdir(), 'seg-aux-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  tf.disposeVariables();
});

describe('the aux classifier', () => {
  it('reads layer3 and upsamples to the image; forward (inference) ignores it', () => {
    const model = randomisedModel(1);
    const batch = randomBatch(2);
    const x = tf.tensor4d(batch.images, [N, H, W, 3]);
    const { logits, aux } = model.forwardWithAux(x, { training: false });
    const main = model.forward(x, { training: false });
    expect(aux?.shape).toEqual([N, H, W, CONFIG.numClasses]);
    expect(Array.from(logits.dataSync())).toEqual(Array.from(main.dataSync()));
    // The aux logits by hand: stem..layer3 of the backbone, then the aux tree.
    const upToLayer3: SequentialSpec = { ...model.backboneSpec, layers: model.backboneSpec.layers.slice(0, 4) };
    const byHand = tf.tidy(() => {
      const layer3 = runLayers(upToLayer3, x, model, { training: false });
      expect(layer3.shape[3]).toBe(32); // 256 x 0.125 channels
      return runLayers(model.auxSpec as SequentialSpec, layer3, model, { training: false }, { imageSize: [H, W] });
    });
    expect(Array.from(aux?.dataSync() ?? [])).toEqual(Array.from(byHand.dataSync()));
    // A model without one has no aux logits.
    const plain = createModel({ ...CONFIG, auxClassifier: undefined }, 1);
    expect(plain.auxSpec).toBeUndefined();
    expect(plain.forwardWithAux(x, { training: false }).aux).toBeUndefined();
    expect([...plain.params.keys()].some((k) => k.startsWith('aux_'))).toBe(false);
    tf.dispose([x, logits, aux as tf.Tensor, main, byHand]);
    model.dispose();
    plain.dispose();
  });

  for (const headText of ['softmax', 'egb', 'linear']) {
    it(`train step with ${headText}: the update is the gradient of main + ${AUX_WEIGHT} x aux (finite differences)`, async () => {
      const model = randomisedModel(3);
      const head = createHead(parseHeadSpec(headText, CONFIG.numClasses), CONFIG.numClasses);
      const batch = randomBatch(4);
      const x = tf.tensor4d(batch.images, [N, H, W, 3]);
      const y = tf.tensor3d(batch.labels, [N, H, W], 'int32');
      // The gradient each head hands its logits, at the starting weights (constants below).
      const start = model.forwardWithAux(x, { training: true, freezeBn: true });
      const gMain = head.lossAndGradient(start.logits, y);
      const gAux = head.lossAndGradient(start.aux as tf.Tensor4D, y);
      const rMain = Float64Array.from(gMain.grad.dataSync());
      const rAux = Float64Array.from(gAux.grad.dataSync());
      tf.dispose([start.logits, start.aux as tf.Tensor, gMain.loss, gMain.grad, gMain.validPixels, gAux.loss, gAux.grad, gAux.validPixels]);
      // The surrogate whose gradient the step must follow: sum(gMain z) + W sum(gAux z_aux).
      // (For softmax and linear it is the loss's own derivative; for egb the head's rule.)
      const surrogate = (): number =>
        tf.tidy(() => {
          const out = model.forwardWithAux(x, { training: true, freezeBn: true });
          const zm = out.logits.dataSync();
          const za = (out.aux as tf.Tensor4D).dataSync();
          let s = 0;
          for (let i = 0; i < zm.length; i++) s += (zm[i] as number) * (rMain[i] as number);
          for (let i = 0; i < za.length; i++) s += AUX_WEIGHT * (za[i] as number) * (rAux[i] as number);
          return s;
        });
      const probes: [string, number][] = [
        ['aux_classifier.0.weight', 5],
        ['aux_classifier.1.weight', 2],
        ['aux_classifier.4.bias', 1],
        ['backbone.layer3.1.conv2.weight', 17], // reaches both losses
        ['backbone.layer4.0.conv1.weight', 9], // the main loss only
        ['classifier.4.bias', 2],
      ];
      const numeric = finiteDifferences(model, probes, surrogate, 1e-2);
      // One SGD step with lr 1, no momentum or decay: the update is minus the gradient.
      const before = probeValues(model, probes);
      const sgd = new MomentumSgd(model.params, { momentum: 0, weightDecay: 0 });
      let step: { loss: number };
      try {
        step = await trainStep(model, head, sgd, batch, { lr: 1, freezeBn: true, auxLoss: AUX_WEIGHT });
      } finally {
        sgd.dispose();
      }
      expect(Number.isFinite(step.loss)).toBe(true);
      expectUpdateIsGradient(probes, before, probeValues(model, probes), numeric);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('reports main + W x aux as the step loss, and leaks no tensors', async () => {
    const model = randomisedModel(5);
    const head = createHead({ kind: 'softmax' }, CONFIG.numClasses);
    const batch = randomBatch(6);
    const x = tf.tensor4d(batch.images, [N, H, W, 3]);
    const y = tf.tensor3d(batch.labels, [N, H, W], 'int32');
    const out = model.forwardWithAux(x, { training: true, freezeBn: true });
    const expected =
      (head.loss(out.logits, y).dataSync()[0] as number) + AUX_WEIGHT * (head.loss(out.aux as tf.Tensor4D, y).dataSync()[0] as number);
    tf.dispose([x, y, out.logits, out.aux as tf.Tensor]);
    const sgd = new MomentumSgd(model.params, { momentum: 0.9, weightDecay: 1e-4 });
    try {
      const first = await trainStep(model, head, sgd, batch, { lr: 0, freezeBn: true, auxLoss: AUX_WEIGHT });
      expect(first.loss).toBeCloseTo(expected, 5);
      const tensors = tf.memory().numTensors;
      await trainStep(model, head, sgd, batch, { lr: 0.01, freezeBn: false, auxLoss: AUX_WEIGHT });
      expect(tf.memory().numTensors).toBe(tensors);
    } finally {
      sgd.dispose();
      model.dispose();
    }
  });
});

describe('a run with --aux-loss', () => {
  it('saves the aux classifier, resumes exactly, refuses another weight on resume, and evaluates without it', async () => {
    const data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 36, seed: 5 })).root;
    const config = (out: string, over: Partial<FlatTrainConfig> = {}): FlatTrainConfig => ({
      ...DEFAULT_TRAIN_CONFIG,
      data,
      out: join(dir, out),
      head: 'egb',
      backbone: 'resnet18',
      width: 0.125,
      crop: 33,
      batch: 2,
      iters: 4,
      lr: 0.01,
      saveEvery: 0,
      evalEvery: 0,
      evalLimit: 2,
      logEvery: 1,
      seed: 3,
      auxLoss: AUX_WEIGHT,
      ...over,
    });
    const runs = await straightAndResumedRuns((out) => config(out));
    const a = loadCheckpoint(runCheckpointDir(runs.straight), { optimizer: false });
    const b = loadCheckpoint(runCheckpointDir(runs.split), { optimizer: false });
    expect(a.config.model.auxClassifier).toBe(true);
    expect((a.config.training['model'] as Record<string, unknown>)['auxLoss']).toBe(AUX_WEIGHT);
    for (const name of ['aux_classifier.0.weight', 'aux_classifier.1.running_var', 'backbone.layer3.0.conv1.weight']) {
      const va = (a.model.params.get(name) ?? a.model.buffers.get(name)) as tf.Variable;
      const vb = (b.model.params.get(name) ?? b.model.buffers.get(name)) as tf.Variable;
      expect(Array.from(vb.dataSync()), name).toEqual(Array.from(va.dataSync()));
    }
    a.model.dispose();
    b.model.dispose();
    const tensors = readSafetensors(join(runCheckpointDir(runs.straight), 'model.safetensors')).tensors;
    expect(tensors.get('aux_classifier.0.weight')?.shape).toEqual([8, 32, 3, 3]);
    expect(tensors.get('aux_classifier.4.weight')?.shape).toEqual([6, 8, 1, 1]);
    expect(tensors.has('aux_classifier.1.num_batches_tracked')).toBe(true);
    // The aux classifier's weight is part of the run's model.
    await expect(train(config('split', { iters: 6, auxLoss: 0.4 }), { resume: true, given: ['auxLoss'] })).rejects.toThrow(
      /auxLoss.*got 0.4, but the run .* was trained with 0.5/,
    );
    await expect(train(config('split', { iters: 6, auxLoss: 0 }), { resume: true, given: ['auxLoss'] })).rejects.toThrow(
      /got 0, but the run .* was trained with 0.5/,
    );
  });
});
