import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { readFileSync } from 'node:fs';
import { createModel, modelBatchNormLayers, modelWeightSpecs, type SegmentationModel } from '../../src/segmentation/model.js';
import { torchShape } from '../../src/checkpoint/weight-layout.js';
import { deeplabSpec, type ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { describeModel } from '../../src/segmentation/describe-model.js';
import { weightSpecs } from '../../src/nn/layer-spec.js';
import { RESNET_NAMES as BACKBONE_NAMES } from '../../src/backbones/resnet.js';
import { createHead } from '../../src/heads/head.js';
import { SegError } from '../../src/core/errors.js';

const tiny: ModelConfig = { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false };

/** A fixed batch: two 32x32 images whose left half is class 1 and right half class 2, top rows void. */
function fixedBatch(): { images: tf.Tensor4D; labels: tf.Tensor3D } {
  const images = new Float32Array(2 * 32 * 32 * 3);
  const labels = new Int32Array(2 * 32 * 32);
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = (n * 32 + y) * 32 + x;
        const left = x < 16;
        labels[p] = y < 2 ? 255 : left ? 1 : 2;
        for (let c = 0; c < 3; c++) images[p * 3 + c] = (left ? 1 : -1) * (c + 1) * 0.5 + (n === 1 ? 0.1 : 0);
      }
    }
  }
  return { images: tf.tensor4d(images, [2, 32, 32, 3]), labels: tf.tensor3d(labels, [2, 32, 32], 'int32') };
}

function sgdStep(model: SegmentationModel, loss: () => tf.Scalar, lr: number): number {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, [...model.params.values()]);
    for (const p of model.params.values()) {
      const g = grads[p.name];
      if (g !== undefined) p.assign(tf.sub(p, tf.mul(g, lr)));
    }
    return value.dataSync()[0] as number;
  });
}

describe('model structure', () => {
  it('has torchvision deeplabv3 parameter counts', () => {
    const count = (backbone: ModelConfig['backbone']) =>
      describeModel({ backbone, outputStride: 8, width: 1, numClasses: 21, multiGrid: false }, 513).params;
    expect(count('resnet50')).toBe(39_638_869);
    expect(count('resnet101')).toBe(58_630_997);
  });

  it("has torchvision's parameter counts with the aux classifier, and its state-dict names and shapes", () => {
    const aux = (backbone: ModelConfig['backbone'], outputStride: 8 | 16) =>
      describeModel({ backbone, outputStride, width: 1, numClasses: 21, multiGrid: false, auxClassifier: true }, 513);
    expect(aux('resnet50', 8).params).toBe(42_004_074);
    expect(aux('resnet101', 8).params).toBe(60_996_202);
    expect(aux('resnet101', 16).params).toBe(60_996_202);
    // torchvision's deeplabv3_resnet50/101(num_classes=21, aux_loss=True).state_dict(), written with torch
    // (tools/torchvision_roundtrip.py keys --aux): seg's checkpoints hold exactly these tensors.
    const fixture = JSON.parse(readFileSync('test/fixtures/torchvision/deeplabv3-aux-state-dict.json', 'utf8')) as {
      models: Record<string, { parameters: number; stateDict: [string, number[]][] }>;
    };
    for (const backbone of ['resnet50', 'resnet101'] as const) {
      const config: ModelConfig = { backbone, outputStride: 8, width: 1, numClasses: 21, multiGrid: false, auxClassifier: true };
      const spec = deeplabSpec(config);
      const shapes = new Map<string, number[]>();
      const specModel = { spec: spec.root, auxSpec: spec.aux };
      for (const w of modelWeightSpecs(specModel)) shapes.set(w.name, torchShape(w.shape));
      for (const bn of modelBatchNormLayers(specModel)) shapes.set(`${bn.name}.num_batches_tracked`, []);
      const torchvision = fixture.models[backbone];
      expect(new Map(torchvision?.stateDict)).toEqual(shapes);
      expect(aux(backbone, 8).params).toBe(torchvision?.parameters);
    }
    // The aux classifier: in the parameters, out of the inference FLOPs, with its own figures.
    const d = aux('resnet50', 8);
    const plain = describeModel({ backbone: 'resnet50', outputStride: 8, width: 1, numClasses: 21, multiGrid: false }, 513);
    expect(d.flops).toBe(plain.flops);
    expect(d.stages).toEqual(plain.stages);
    expect(d.aux?.params).toBe(42_004_074 - 39_638_869);
    expect(d.aux?.flops).toBe(2 * (65 * 65 * 256 * 1024 * 9 + 65 * 65 * 21 * 256));
    expect([d.aux?.height, d.aux?.width, d.aux?.channels]).toEqual([513, 513, 21]);
  });

  it('counts FLOPs as torchvision reports them', () => {
    // torchvision lists 178.72 GFLOPS (multiply-adds) for deeplabv3_resnet50 at 520x520,
    // with its aux FCN head (3x3 conv 1024 -> 256 at 65x65) included; ours excludes aux.
    const d = describeModel({ backbone: 'resnet50', outputStride: 8, width: 1, numClasses: 21, multiGrid: false }, 520);
    const auxMacs = 65 * 65 * 256 * 1024 * 9 + 65 * 65 * 21 * 256;
    expect((d.flops / 2 + auxMacs) / 1e9).toBeCloseTo(178.72, 1);
    const d101 = describeModel({ backbone: 'resnet101', outputStride: 8, width: 1, numClasses: 21, multiGrid: false }, 520);
    expect((d101.flops / 2 + auxMacs) / 1e9).toBeCloseTo(258.74, 1);
    expect(d.stages.map((s) => [s.name, s.outputStride, s.channels])).toEqual([
      ['stem', 4, 64],
      ['layer1', 4, 256],
      ['layer2', 8, 512],
      ['layer3', 8, 1024],
      ['layer4', 8, 2048],
      ['aspp', 8, 256],
      ['decoder', 8, 256],
      ['classifier', 8, 21],
      ['upsample', 1, 21],
    ]);
    expect(d.stages.reduce((s, x) => s + x.params, 0)).toBe(d.params);
    expect(d.stages.reduce((s, x) => s + x.flops, 0)).toBe(d.flops);
  });

  it('uses torchvision names for the decoder', () => {
    const names = weightSpecs(deeplabSpec({ ...tiny, width: 1, numClasses: 21 }).root).map((w) => [w.name, w.shape.join('x')]);
    const byName = new Map(names as [string, string][]);
    expect(byName.get('classifier.0.convs.0.0.weight')).toBe('1x1x512x256');
    expect(byName.get('classifier.0.convs.3.0.weight')).toBe('3x3x512x256');
    expect(byName.get('classifier.0.convs.4.1.weight')).toBe('1x1x512x256');
    expect(byName.get('classifier.0.convs.4.2.running_var')).toBe('256');
    expect(byName.get('classifier.0.project.0.weight')).toBe('1x1x1280x256');
    expect(byName.get('classifier.0.project.1.bias')).toBe('256');
    expect(byName.get('classifier.1.weight')).toBe('3x3x256x256');
    expect(byName.get('classifier.2.running_mean')).toBe('256');
    expect(byName.get('classifier.4.weight')).toBe('1x1x256x21');
    expect(byName.get('classifier.4.bias')).toBe('21');
    expect(names.filter(([n]) => (n as string).startsWith('classifier.3'))).toEqual([]);
  });

  it('uses ASPP rates 6/12/18 at output stride 16 and 12/24/36 at 8', () => {
    for (const [os, rates] of [
      [16, [6, 12, 18]],
      [8, [12, 24, 36]],
    ] as const) {
      const dil = weightSpecs(deeplabSpec({ ...tiny, outputStride: os }).root)
        .filter((w) => /^classifier\.0\.convs\.[123]\.0\.weight$/.test(w.name))
        .map((w) => (w.layer.kind === 'conv' ? w.layer.dilation : 0));
      expect(dil).toEqual(rates);
    }
  });

  it('refuses bad configs with SegError', () => {
    expect(() => deeplabSpec({ ...tiny, numClasses: 0 })).toThrow(SegError);
    expect(() => deeplabSpec({ ...tiny, outputStride: 32 as 16 })).toThrow(/expected one of 8, 16/);
  });
});

describe('model forward and training', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => tf.disposeVariables());

  it('initialises reproducibly from the seed, Kaiming fan-out', () => {
    const a = createModel({ ...tiny, width: 0.25 }, 5);
    const b = createModel({ ...tiny, width: 0.25 }, 5);
    const c = createModel({ ...tiny, width: 0.25 }, 6);
    const w = (m: SegmentationModel, n: string) => (m.params.get(n) as tf.Variable).dataSync();
    expect(Array.from(w(a, 'backbone.layer4.1.conv2.weight'))).toEqual(Array.from(w(b, 'backbone.layer4.1.conv2.weight')));
    expect(Array.from(w(a, 'backbone.conv1.weight'))).not.toEqual(Array.from(w(c, 'backbone.conv1.weight')));
    // layer4 3x3 conv, 128 -> 128 at width 0.25: std sqrt(2 / (128 * 9))
    const v = Array.from(w(a, 'backbone.layer4.1.conv2.weight'));
    const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (128 * 9)), 3);
    expect(Array.from(w(a, 'classifier.4.bias'))).toEqual([0, 0, 0]);
    expect(Array.from(w(a, 'backbone.bn1.weight')).every((x) => x === 1)).toBe(true);
    expect(Array.from((a.buffers.get('backbone.bn1.running_var') as tf.Variable).dataSync()).every((x) => x === 1)).toBe(true);
    expect(a.buffers.get('backbone.bn1.running_var')?.trainable).toBe(false);
    expect(a.params.get('backbone.bn1.weight')?.trainable).toBe(true);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('gives logits at the input size for every backbone at both output strides', () => {
    for (const backbone of BACKBONE_NAMES) {
      for (const outputStride of [8, 16] as const) {
        const model = createModel({ backbone, outputStride, width: 0.0625, numClasses: 4, multiGrid: outputStride === 16 }, 1);
        const shape = tf.tidy(() => model.forward(tf.zeros([2, 33, 30, 3]) as tf.Tensor4D, { training: true }).shape);
        expect(shape, `${backbone} OS${outputStride}`).toEqual([2, 33, 30, 4]);
        expect(model.batchesTracked).toBe(1);
        model.dispose();
      }
    }
  });

  it('lowers the loss on a fixed batch with each head', () => {
    const { images, labels } = fixedBatch();
    for (const spec of [
      { kind: 'softmax' } as const,
      { kind: 'egb', boost: 'exp', alpha: 1 / 3, beta: 0 } as const,
      { kind: 'linear' } as const,
    ]) {
      const model = createModel(tiny, 3);
      const head = createHead(spec, 3);
      const losses: number[] = [];
      for (let i = 0; i < 12; i++) {
        losses.push(sgdStep(model, () => head.loss(model.forward(images, { training: true }), labels), 0.05));
      }
      const first = losses[0] as number;
      const last = losses[losses.length - 1] as number;
      expect(last, `${spec.kind}: ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(first * 0.7);
      model.dispose();
    }
    tf.dispose([images, labels]);
  });

  it('leaks no tensor over 50 training steps', () => {
    const model = createModel(tiny, 11);
    const head = createHead({ kind: 'softmax' }, 3);
    const { images, labels } = fixedBatch();
    const step = () => sgdStep(model, () => head.loss(model.forward(images, { training: true }), labels), 0.01);
    step();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(baseline);
    const eval1 = tf.tidy(() => model.forward(images, { training: false }).shape);
    expect(eval1).toEqual([2, 32, 32, 3]);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(model.batchesTracked).toBe(51);
    model.dispose();
    tf.dispose([images, labels]);
  });
});
