/**
 * The DeepLabV3+ decoder (`aspp-plus`): its tree (names, shapes, the width rule), its forward
 * pass against the same model composed by hand with tfjs's own bilinear resize and concat,
 * its cost against hand counts, its gradient against finite differences, and configs that
 * name it (old ones, without a decoder, are ASPP).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from '../training/tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { createHead } from '../../src/heads/head.js';
import { leaves, type SequentialSpec, weightSpecs } from '../../src/nn/layer-spec.js';
import { runLayers } from '../../src/nn/layer-forward.js';
import { decoderOf, deeplabSpec, type ModelConfig, validateModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { describeModel } from '../../src/segmentation/describe-model.js';
import type { SegmentationModel } from '../../src/segmentation/model.js';
import { MomentumSgd } from '../../src/training/sgd.js';
import { trainStep } from '../../src/training/train-step.js';
import { decoderNames, parseDecoderName } from '../../src/decoders/registry.js';
import { modelConfigDifferences } from '../../src/checkpoint/checkpoint-config.js';
import type { Batch } from '../../src/data-loading/types.js';
import {
  expectUpdateIsGradient,
  finiteDifferences,
  probeValues,
  randomBatch as batchOf,
  randomisedModel as randomised,
} from '../training/gradient-check.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { straightAndResumedRuns } from '../training/tiny-run.js';

const CONFIG: ModelConfig = { backbone: 'resnet18', outputStride: 8, width: 0.125, numClasses: 3, multiGrid: false, decoder: 'aspp-plus' };
const [N, H, W] = [2, 21, 27];

const randomBatch = (seed: number): Batch => batchOf(seed, CONFIG.numClasses, [N, H, W]);
const randomisedModel = (config: ModelConfig, seed: number): SegmentationModel => randomised(config, seed, ['classifier.4.weight']);

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  dir = mkdtempSync(join(tmpdir(), 'seg-aspp-plus-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  tf.disposeVariables();
});

describe('the aspp-plus decoder', () => {
  it('is registered beside aspp and checked by name', () => {
    expect(decoderNames()).toEqual(['aspp', 'aspp-plus']);
    expect(parseDecoderName('aspp-plus')).toBe('aspp-plus');
    expect(() => parseDecoderName('fpn')).toThrow(/--decoder: got 'fpn', expected one of aspp, aspp-plus/);
    expect(() => validateModelConfig({ ...CONFIG, decoder: 'fpn' })).toThrow(/decoder: got "fpn", expected one of aspp, aspp-plus/);
  });

  it('configs name it only when it is not aspp: old configs (no decoder) are aspp', () => {
    const { decoder: _, ...old } = CONFIG;
    expect(decoderOf(validateModelConfig(old))).toBe('aspp');
    expect(validateModelConfig({ ...old, decoder: 'aspp' })).toEqual(validateModelConfig(old));
    expect(validateModelConfig(CONFIG).decoder).toBe('aspp-plus');
    expect(modelConfigDifferences(validateModelConfig(old), { decoder: 'aspp' })).toEqual([]);
    expect(modelConfigDifferences(validateModelConfig(old), { decoder: 'aspp-plus' })).toEqual(['decoder']);
    // The old tree is unchanged: same leaves, in the same order, as an aspp config.
    expect(weightSpecs(deeplabSpec({ ...old, decoder: 'aspp' }).root)).toEqual(weightSpecs(deeplabSpec(old).root));
  });

  for (const outputStride of [8, 16] as const) {
    it(`OS${outputStride}: layer1 -> 48w projection, ASPP upsampled and concatenated first, two 3x3 convs, the classifier`, () => {
      const spec = deeplabSpec({ ...CONFIG, outputStride });
      const shapes = new Map(weightSpecs(spec.root).map((w) => [w.name, w.shape]));
      // width 0.125: layer1 8 channels, layer4 64, ASPP 32, low-level round(48 / 8) = 6.
      expect(shapes.get('classifier.low_level.0.weight')).toEqual([1, 1, 8, 6]);
      expect(shapes.get('classifier.low_level.1.weight')).toEqual([6]);
      expect(shapes.get('classifier.0.convs.0.0.weight')).toEqual([1, 1, 64, 32]);
      expect(shapes.get('classifier.fuse.0.weight')).toEqual([3, 3, 38, 32]);
      expect(shapes.get('classifier.fuse.3.weight')).toEqual([3, 3, 32, 32]);
      expect(shapes.get('classifier.4.weight')).toEqual([1, 1, 32, 3]);
      expect(shapes.has('classifier.1.weight')).toBe(false); // ASPP's own 3x3 conv is not there
      // ASPP's atrous rates follow the output stride.
      const rates = leaves(spec.root).flatMap((l) => (l.kind === 'conv' && /convs\.[123]\.0$/.test(l.name) ? [l.dilation] : []));
      expect(rates).toEqual(outputStride === 16 ? [6, 12, 18] : [12, 24, 36]);
      // Every backbone weight is in the tree, under its torchvision name.
      const backbone = weightSpecs(spec.backbone).map((w) => w.name);
      expect(backbone.every((n) => shapes.has(n))).toBe(true);
      expect(new Set(leaves(spec.root).map((l) => l.kind))).toEqual(
        new Set(['conv', 'batchNorm', 'relu', 'maxPool', 'globalAvgPool', 'dropout', 'resize']),
      );
      const d = describeModel({ ...CONFIG, outputStride }, [H, W]);
      expect(d.stages.map((s) => [s.name, s.outputStride, s.channels])).toEqual([
        ['stem', 4, 8],
        ['layer1', 4, 8],
        ['layer2', 8, 16],
        ['layer3', outputStride === 8 ? 8 : 16, 32],
        ['layer4', outputStride, 64],
        ['aspp', outputStride, 32],
        ['lowLevel', 4, 6],
        ['decoder', 4, 32],
        ['classifier', 4, 3],
        ['upsample', 1, 3],
      ]);
      // The decoder's cost by hand, at layer1's 6x7 (21x27 at stride 4).
      const decoder = d.stages.find((s) => s.name === 'decoder');
      expect([decoder?.height, decoder?.width]).toEqual([6, 7]);
      expect(decoder?.flops).toBe(2 * 6 * 7 * 9 * (38 * 32 + 32 * 32));
      expect(decoder?.params).toBe(9 * 38 * 32 + 9 * 32 * 32 + 4 * 32);
      expect(d.stages.find((s) => s.name === 'lowLevel')?.params).toBe(8 * 6 + 2 * 6);
    });
  }

  it('forward equals the model composed by hand with tfjs bilinear resize (half-pixel) and concat', () => {
    for (const outputStride of [8, 16] as const) {
      const model = randomisedModel({ ...CONFIG, outputStride }, 2);
      const x = tf.tensor4d(randomBatch(1).images, [N, H, W, 3]);
      const logits = model.forward(x, { training: false });
      expect(logits.shape).toEqual([N, H, W, 3]);
      const byHand = tf.tidy(() => {
        const stages = model.backboneSpec.layers as SequentialSpec[];
        const run = (spec: SequentialSpec, input: tf.Tensor4D): tf.Tensor4D => runLayers(spec, input, model, { training: false });
        const layer1 = run({ ...model.backboneSpec, layers: stages.slice(0, 2) }, x);
        const deep = run({ ...model.backboneSpec, layers: stages.slice(2) }, layer1);
        const root = model.spec.layers;
        const concat = root[1];
        if (concat?.kind !== 'concat') throw new Error('expected the concat');
        const deepBranch = concat.branches[0] as SequentialSpec;
        const aspp = deepBranch.layers.find((l) => l.kind === 'sequential' && l.name === 'classifier.0') as SequentialSpec;
        const asppOut = run(aspp, deep);
        const up = tf.image.resizeBilinear(asppOut, [layer1.shape[1], layer1.shape[2]], false, true);
        const low = run(concat.branches[1] as SequentialSpec, layer1);
        const fused = run(root[2] as SequentialSpec, tf.concat([up, low], 3));
        const classes = run(root[3] as SequentialSpec, fused);
        return tf.image.resizeBilinear(classes, [H, W], false, true);
      });
      const a = logits.dataSync();
      const b = byHand.dataSync();
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
      expect(worst).toBeLessThan(1e-4);
      tf.dispose([x, logits, byHand]);
      model.dispose();
    }
  });

  it('train step: the update is the gradient of the head surrogate (finite differences), through both paths', async () => {
    const model = randomisedModel(CONFIG, 3);
    const head = createHead({ kind: 'softmax' }, CONFIG.numClasses);
    const batch = randomBatch(4);
    const x = tf.tensor4d(batch.images, [N, H, W, 3]);
    const y = tf.tensor3d(batch.labels, [N, H, W], 'int32');
    const start = model.forward(x, { training: true, freezeBn: true });
    const g = head.lossAndGradient(start, y);
    const r = Float64Array.from(g.grad.dataSync());
    tf.dispose([start, g.loss, g.grad, g.validPixels]);
    const surrogate = (): number =>
      tf.tidy(() => {
        const z = model.forward(x, { training: true, freezeBn: true }).dataSync();
        let s = 0;
        for (let i = 0; i < z.length; i++) s += (z[i] as number) * (r[i] as number);
        return s;
      });
    const probes: [string, number][] = [
      ['classifier.low_level.0.weight', 5],
      ['classifier.low_level.1.bias', 1],
      ['classifier.fuse.0.weight', 100],
      ['classifier.fuse.3.weight', 33],
      ['classifier.0.project.0.weight', 40],
      ['backbone.layer1.0.conv1.weight', 11], // reaches the decoder by both paths
      ['backbone.layer4.0.conv1.weight', 9], // through ASPP only
      ['classifier.4.bias', 2],
    ];
    // Small enough that no ReLU flips between the two sides (1e-2 crosses kinks here).
    const numeric = finiteDifferences(model, probes, surrogate, 3e-3);
    const before = probeValues(model, probes);
    const sgd = new MomentumSgd(model.params, { momentum: 0, weightDecay: 0 });
    try {
      const step = await trainStep(model, head, sgd, batch, { lr: 1, freezeBn: true });
      expect(Number.isFinite(step.loss)).toBe(true);
    } finally {
      sgd.dispose();
    }
    expectUpdateIsGradient(probes, before, probeValues(model, probes), numeric);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('a run with --decoder aspp-plus', () => {
  it('saves the decoder in the checkpoint, resumes exactly, refuses another decoder on resume, and evaluates', async () => {
    const data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 36, seed: 5 })).root;
    const config = (out: string, over: Partial<FlatTrainConfig> = {}): FlatTrainConfig => ({
      ...DEFAULT_TRAIN_CONFIG,
      data,
      out: join(dir, out),
      head: 'egb',
      backbone: 'resnet18',
      decoder: 'aspp-plus',
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
      ...over,
    });
    const runs = await straightAndResumedRuns((out) => config(out));
    const a = loadCheckpoint(runCheckpointDir(runs.straight), { optimizer: false });
    const b = loadCheckpoint(runCheckpointDir(runs.split), { optimizer: false });
    expect(a.config.model.decoder).toBe('aspp-plus');
    expect((a.config.training['model'] as Record<string, unknown>)['decoder']).toBe('aspp-plus');
    for (const [name, v] of a.model.params) {
      expect(Array.from(b.model.params.get(name)?.dataSync() ?? []), name).toEqual(Array.from(v.dataSync()));
    }
    for (const [name, v] of a.model.buffers) {
      expect(Array.from(b.model.buffers.get(name)?.dataSync() ?? []), name).toEqual(Array.from(v.dataSync()));
    }
    a.model.dispose();
    b.model.dispose();
    await expect(train(config('split', { iters: 6, decoder: 'aspp' }), { resume: true, given: ['decoder'] })).rejects.toThrow(
      /decoder: got "aspp", but the run .* was trained with "aspp-plus"/,
    );
  });
});
