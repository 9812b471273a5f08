import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { writeSafetensors, type WritableTensor } from '../../src/checkpoint/safetensors.js';
import { createModel } from '../../src/segmentation/model.js';
import { importPretrainedBackbone, pretrainedTarget } from '../../src/checkpoint/pretrained-import.js';
import { resnetSpec } from '../../src/backbones/resnet.js';
import { weightSpecs } from '../../src/nn/layer-spec.js';
import { torchShape } from '../../src/checkpoint/weight-layout.js';
import { SegError } from '../../src/core/errors.js';

const width = 0.0625;

/** A torchvision-named ImageNet ResNet-18 state dict (at the test's width), values k * 1e-3 per tensor. */
function torchvisionResnet18(): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  const spec = resnetSpec({ backbone: 'resnet18', outputStride: 16, width, multiGrid: false }, 'x').spec;
  for (const w of weightSpecs(spec)) {
    const shape = torchShape(w.shape);
    const size = shape.reduce((a, b) => a * b, 1);
    out.set(w.name.slice(2), { shape, data: Float32Array.from({ length: size }, (_, k) => k * 1e-3 + 0.5) });
    if (w.name.endsWith('.running_var'))
      out.set(w.name.slice(2).replace('running_var', 'num_batches_tracked'), { shape: [], data: BigInt64Array.of(100n) });
  }
  out.set('fc.weight', { shape: [1000, 32], data: new Float32Array(32000) });
  out.set('fc.bias', { shape: [1000], data: new Float32Array(1000) });
  return out;
}

describe('pretrained import', () => {
  let tmp: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-pretrained-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    tf.disposeVariables();
  });

  it('maps torchvision names into backbone.* with OIHW -> HWIO, reporting missing and unexpected keys', () => {
    const state = torchvisionResnet18();
    state.delete('layer4.1.bn2.running_mean');
    state.set('head.extra', { shape: [2], data: new Float32Array(2) });
    const file = path.join(tmp, 'resnet18.safetensors');
    writeSafetensors(file, state);
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width, numClasses: 3, multiGrid: false }, 1);
    const classifierBefore = Array.from((model.params.get('classifier.4.weight') as tf.Variable).dataSync());
    const lines: string[] = [];
    const report = importPretrainedBackbone(model, file, { log: (l) => lines.push(l) });
    expect(report.missing).toEqual(['backbone.layer4.1.bn2.running_mean']);
    expect(report.unexpected).toEqual(['head.extra']);
    expect(report.ignored.filter((k) => k.startsWith('fc.')).sort()).toEqual(['fc.bias', 'fc.weight']);
    expect(report.ignored.filter((k) => k.endsWith('num_batches_tracked')).length).toBe(20);
    expect(report.loaded.length).toBe(weightSpecs(model.backboneSpec).length - 1);
    expect(report.loaded.length).toBe(99); // 20 convs + 20 BN x 4, minus the missing one
    expect(lines[0]).toMatch(/loaded 99 backbone tensors, 1 missing, 1 unexpected, 22 ignored/);

    // conv1 OIHW [4, 3, 7, 7]: value at (o=3, i=2, y=1, x=6) lands at HWIO (1, 6, 2, 3).
    const conv1 = (model.params.get('backbone.conv1.weight') as tf.Variable).dataSync();
    const oihwIndex = ((3 * 3 + 2) * 7 + 1) * 7 + 6;
    expect(conv1[((1 * 7 + 6) * 3 + 2) * 4 + 3]).toBeCloseTo(oihwIndex * 1e-3 + 0.5, 6);
    const rv = (model.buffers.get('backbone.layer3.0.downsample.1.running_var') as tf.Variable).dataSync();
    expect(Array.from(rv)[2]).toBeCloseTo(0.502, 6);
    // Untouched: the missing buffer and the decoder.
    expect(Array.from((model.buffers.get('backbone.layer4.1.bn2.running_mean') as tf.Variable).dataSync()).every((v) => v === 0)).toBe(
      true,
    );
    expect(Array.from((model.params.get('classifier.4.weight') as tf.Variable).dataSync())).toEqual(classifierBefore);
    model.dispose();
  });

  it('refuses shape mismatches naming the key, both shapes and the file, changing nothing', () => {
    const file = path.join(tmp, 'resnet18-full-width.safetensors');
    writeSafetensors(file, torchvisionResnet18());
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    const before = Array.from((model.params.get('backbone.conv1.weight') as tf.Variable).dataSync());
    let error: unknown;
    try {
      importPretrainedBackbone(model, file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SegError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/: bn1\.bias has shape \[4\], the resnet18 backbone at width 0.125 expects \[8\]/);
    expect(Array.from((model.params.get('backbone.conv1.weight') as tf.Variable).dataSync())).toEqual(before);
    model.dispose();
  });

  it('refuses a file without backbone weights and a missing file', () => {
    const file = path.join(tmp, 'other.safetensors');
    writeSafetensors(file, new Map([['encoder.weight', { shape: [2], data: new Float32Array(2) }]]));
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width, numClasses: 3, multiGrid: false }, 1);
    expect(() => importPretrainedBackbone(model, file)).toThrow(/no ResNet backbone weights found/);
    expect(() => importPretrainedBackbone(model, path.join(tmp, 'absent.safetensors'))).toThrow(SegError);
    model.dispose();
  });

  it('reads a torchvision .pth written by PyTorch, with the values torch wrote (OIHW -> HWIO)', () => {
    const fixtures = path.join(__dirname, '..', 'fixtures', 'pth');
    const stem = (
      JSON.parse(fs.readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as {
        resnet_stem: Record<string, { shape: number[]; values: number[] }>;
      }
    ).resnet_stem;
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    for (const name of ['resnet_stem.pth', 'nested_checkpoint.pth']) {
      const lines: string[] = [];
      const report = importPretrainedBackbone(model, path.join(fixtures, name), { log: (l) => lines.push(l) });
      expect(report.loaded).toEqual([
        'backbone.conv1.weight',
        'backbone.bn1.weight',
        'backbone.bn1.bias',
        'backbone.bn1.running_mean',
        'backbone.bn1.running_var',
      ]);
      expect(report.ignored).toEqual(['bn1.num_batches_tracked', 'fc.weight']);
      expect(lines[0]).toMatch(
        name === 'nested_checkpoint.pth' ? /\['model'\]: loaded 5 backbone tensors/ : /pth: loaded 5 backbone tensors/,
      );
      const conv1 = (model.params.get('backbone.conv1.weight') as tf.Variable).dataSync();
      const want = stem['conv1.weight']?.values as number[];
      // OIHW (o=5, i=1, y=3, x=2) lands at HWIO (3, 2, 1, 5)
      expect(conv1[((3 * 7 + 2) * 3 + 1) * 8 + 5]).toBe(want[((5 * 3 + 1) * 7 + 3) * 7 + 2]);
      expect(Array.from((model.buffers.get('backbone.bn1.running_var') as tf.Variable).dataSync())).toEqual(
        stem['bn1.running_var']?.values,
      );
    }
    model.dispose();
  });

  it('maps prefixes', () => {
    expect(pretrainedTarget('layer1.0.conv1.weight')).toBe('backbone.layer1.0.conv1.weight');
    expect(pretrainedTarget('module.bn1.bias')).toBe('backbone.bn1.bias');
    expect(pretrainedTarget('backbone.conv1.weight')).toBe('backbone.conv1.weight');
  });
});
