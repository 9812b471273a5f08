import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { RESNET_NAMES as BACKBONE_NAMES, resnetSpec, type ResnetOptions as BackboneOptions } from '../../src/backbones/resnet.js';
import { parseBackboneName } from '../../src/backbones/registry.js';
import { scaledChannels } from '../../src/backbones/width.js';
import { leaves, weightSpecs, type ConvSpec } from '../../src/nn/layer-spec.js';
import { layerCost } from '../../src/nn/layer-cost.js';
import { runLayers } from '../../src/nn/layer-forward.js';
import { initialValue } from '../../src/nn/layer-init.js';
import { Rng } from '../../src/core/random.js';
import { SegError } from '../../src/core/errors.js';

function convs(options: BackboneOptions): Map<string, ConvSpec> {
  const out = new Map<string, ConvSpec>();
  for (const l of leaves(resnetSpec(options).spec)) if (l.kind === 'conv') out.set(l.name, l);
  return out;
}

function conv(map: Map<string, ConvSpec>, name: string): ConvSpec {
  const c = map.get(name);
  if (c === undefined) throw new Error(`no conv ${name}`);
  return c;
}

const full = (backbone: BackboneOptions['backbone'], outputStride: 8 | 16, multiGrid = false): BackboneOptions => ({
  backbone,
  outputStride,
  width: 1,
  multiGrid,
});

describe('resnet spec', () => {
  it('has torchvision ImageNet ResNet parameter counts without fc', () => {
    // torchvision totals minus fc (512*1000+1000 = 513000 or 2048*1000+1000 = 2049000).
    const expected = {
      resnet18: 11_689_512 - 513_000,
      resnet34: 21_797_672 - 513_000,
      resnet50: 25_557_032 - 2_049_000,
      resnet101: 44_549_160 - 2_049_000,
    };
    for (const name of BACKBONE_NAMES) {
      for (const os of [8, 16] as const) {
        expect(layerCost(resnetSpec(full(name, os)).spec, { height: 64, width: 64, channels: 3 }).params).toBe(expected[name]);
      }
    }
  });

  it('dilates as torchvision replace_stride_with_dilation at output stride 8', () => {
    const c = convs(full('resnet50', 8));
    expect(conv(c, 'backbone.conv1')).toMatchObject({ kernel: 7, stride: 2, dilation: 1, inChannels: 3, outChannels: 64 });
    expect(conv(c, 'backbone.layer2.0.conv2')).toMatchObject({ stride: 2, dilation: 1 });
    expect(conv(c, 'backbone.layer2.0.conv1')).toMatchObject({ stride: 1, kernel: 1 });
    expect(conv(c, 'backbone.layer3.0.conv2')).toMatchObject({ stride: 1, dilation: 1 });
    expect(conv(c, 'backbone.layer3.0.downsample.0')).toMatchObject({ stride: 1, kernel: 1, inChannels: 512, outChannels: 1024 });
    expect(conv(c, 'backbone.layer3.5.conv2')).toMatchObject({ stride: 1, dilation: 2 });
    expect(conv(c, 'backbone.layer4.0.conv2')).toMatchObject({ stride: 1, dilation: 2 });
    expect(conv(c, 'backbone.layer4.1.conv2')).toMatchObject({ stride: 1, dilation: 4 });
    expect(conv(c, 'backbone.layer4.2.conv2')).toMatchObject({ stride: 1, dilation: 4 });
    expect(c.has('backbone.layer3.6.conv2')).toBe(false);
    expect(conv(c, 'backbone.layer1.0.downsample.0')).toMatchObject({ stride: 1, inChannels: 64, outChannels: 256 });
  });

  it('dilates layer4 only at output stride 16, with multi-grid on request', () => {
    const c = convs(full('resnet101', 16));
    expect(conv(c, 'backbone.layer3.0.conv2')).toMatchObject({ stride: 2, dilation: 1 });
    expect(conv(c, 'backbone.layer3.22.conv2')).toMatchObject({ stride: 1, dilation: 1 });
    expect(conv(c, 'backbone.layer4.0.conv2')).toMatchObject({ stride: 1, dilation: 1 });
    expect(conv(c, 'backbone.layer4.0.downsample.0')).toMatchObject({ stride: 1 });
    expect(conv(c, 'backbone.layer4.2.conv2')).toMatchObject({ dilation: 2 });
    const mg = convs(full('resnet101', 16, true));
    expect([0, 1, 2].map((j) => conv(mg, `backbone.layer4.${j}.conv2`).dilation)).toEqual([2, 4, 8]);
    const mg8 = convs(full('resnet50', 8, true));
    expect([0, 1, 2].map((j) => conv(mg8, `backbone.layer4.${j}.conv2`).dilation)).toEqual([4, 8, 16]);
    expect(conv(mg8, 'backbone.layer3.0.conv2').dilation).toBe(1);
  });

  it('dilates both 3x3 convs of basic blocks; first block keeps the previous dilation', () => {
    const c = convs(full('resnet18', 8));
    expect(conv(c, 'backbone.layer3.0.conv1')).toMatchObject({ stride: 1, dilation: 1 });
    expect(conv(c, 'backbone.layer3.0.conv2')).toMatchObject({ stride: 1, dilation: 1 });
    expect(conv(c, 'backbone.layer3.1.conv1')).toMatchObject({ dilation: 2 });
    expect(conv(c, 'backbone.layer4.0.conv1')).toMatchObject({ dilation: 2 });
    expect(conv(c, 'backbone.layer4.1.conv2')).toMatchObject({ dilation: 4 });
    expect(conv(c, 'backbone.layer4.0.downsample.0')).toMatchObject({ stride: 1, inChannels: 256, outChannels: 512 });
    expect(c.has('backbone.layer1.0.downsample.0')).toBe(false);
  });

  it('uses torchvision parameter names', () => {
    const names = weightSpecs(resnetSpec(full('resnet50', 16)).spec).map((w) => w.name);
    expect(names.slice(0, 5)).toEqual([
      'backbone.conv1.weight',
      'backbone.bn1.weight',
      'backbone.bn1.bias',
      'backbone.bn1.running_mean',
      'backbone.bn1.running_var',
    ]);
    for (const n of ['backbone.layer1.0.downsample.1.running_var', 'backbone.layer3.5.conv2.weight', 'backbone.layer4.2.bn3.bias']) {
      expect(names).toContain(n);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('scales channels by the width multiplier', () => {
    expect(scaledChannels(64, 0.125)).toBe(8);
    expect(scaledChannels(64, 1 / 64)).toBe(1);
    expect(scaledChannels(256, 0.3)).toBe(77);
    const spec = resnetSpec({ backbone: 'resnet50', outputStride: 16, width: 0.125, multiGrid: false });
    expect(spec.outChannels).toBe(256);
    expect(() => resnetSpec({ backbone: 'resnet50', outputStride: 16, width: 0, multiGrid: false })).toThrow(SegError);
    expect(() => parseBackboneName('resnet152')).toThrow(/got 'resnet152', expected one of resnet18, resnet34, resnet50, resnet101/);
  });
});

describe('resnet forward', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => tf.disposeVariables());

  it('gives the predicted output shape for every backbone at both output strides', () => {
    for (const backbone of BACKBONE_NAMES) {
      for (const outputStride of [8, 16] as const) {
        const { spec, outChannels } = resnetSpec({ backbone, outputStride, width: 0.0625, multiGrid: false });
        const rng = new Rng(1, 'init');
        const params = new Map<string, tf.Tensor>();
        const buffers = new Map<string, tf.Variable>();
        for (const w of weightSpecs(spec)) {
          const t = tf.tensor(initialValue(w, rng), w.shape);
          if (w.role === 'param') params.set(w.name, t);
          else buffers.set(w.name, tf.variable(t, false));
        }
        const shape = tf.tidy(
          () => runLayers(spec, tf.ones([1, 35, 37, 3]) as tf.Tensor4D, { params, buffers }, { training: false }).shape,
        );
        const side = (s: number) => Math.ceil(s / outputStride);
        expect(shape, `${backbone} OS${outputStride}`).toEqual([1, side(35), side(37), outChannels]);
        const cost = layerCost(spec, { height: 35, width: 37, channels: 3 }).output;
        expect([cost.height, cost.width, cost.channels, cost.stride]).toEqual([side(35), side(37), outChannels, outputStride]);
        tf.dispose([...params.values(), ...buffers.values()]);
      }
    }
  });
});
