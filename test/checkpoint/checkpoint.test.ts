import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import {
  loadCheckpoint,
  loadCheckpointInto,
  readCheckpointConfig,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from '../../src/checkpoint/checkpoint.js';
import { hwioToOihw, oihwToHwio } from '../../src/checkpoint/weight-layout.js';
import { SegError } from '../../src/core/errors.js';
import { PACKAGE_VERSION } from '../../src/core/version.js';

const config: ModelConfig = { backbone: 'resnet18', outputStride: 8, width: 0.0625, numClasses: 3, multiGrid: true };
const normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as SaveCheckpointOptions['normalization'];

function allWeights(model: SegmentationModel): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [n, v] of [...model.params, ...model.buffers]) out.set(n, Array.from(v.dataSync()));
  return out;
}

describe('weight layout', () => {
  it('maps HWIO [y, x, i, o] to OIHW [o, i, y, x] and back', () => {
    const shape = [3, 2, 4, 5]; // kh kw ci co
    const data = Float32Array.from({ length: 120 }, (_, k) => k);
    const oihw = hwioToOihw(data, shape);
    // element (y=2, x=1, i=3, o=4)
    const hwio = ((2 * 2 + 1) * 4 + 3) * 5 + 4;
    const t = ((4 * 4 + 3) * 3 + 2) * 2 + 1;
    expect(oihw[t]).toBe(data[hwio]);
    expect(Array.from(oihwToHwio(oihw, [5, 4, 3, 2]))).toEqual(Array.from(data));
  });
});

describe('checkpoints', () => {
  let tmp: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-ckpt-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    tf.disposeVariables();
  });

  function trainedModel(): SegmentationModel {
    const model = createModel(config, 9);
    // Move the BN running statistics and count a batch, so buffers are not at their init.
    tf.tidy(() => model.forward(tf.randomNormal([2, 24, 24, 3], 0, 1, 'float32', 1) as tf.Tensor4D, { training: true }));
    return model;
  }

  it('records the backend that computed the weights (and reads configs saved before it was recorded)', async () => {
    const model = trainedModel();
    const dir = path.join(tmp, 'backend-record');
    await saveCheckpoint(dir, { model, head: { kind: 'softmax' }, classNames: ['background', 'cat', 'dog'], normalization, iteration: 1 });
    model.dispose();
    expect(readCheckpointConfig(dir).backend).toEqual({ name: 'wasm', adapter: null });
    const file = path.join(dir, 'config.json');
    const { backend: _omitted, ...older } = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify(older));
    expect(readCheckpointConfig(dir).backend).toBeNull();
  });

  it('round-trips weights, buffers, optimizer and training state bit-exactly', async () => {
    const model = trainedModel();
    const momentum = new Map<string, tf.Tensor>([
      ['backbone.conv1.weight', tf.randomNormal([7, 7, 3, 4], 0, 1, 'float32', 2)],
      ['classifier.4.bias', tf.tensor1d([1.5, -2.25, 1e-30])],
      ['step', tf.tensor1d([7], 'int32')],
    ]);
    const dir = path.join(tmp, 'run', 'checkpoint');
    const trainingState = { rng: { data: [1, 2, 3, 4] }, epoch: 3 };
    await saveCheckpoint(dir, {
      model,
      head: { kind: 'egb', boost: 'exp', alpha: 1 / 3, beta: 0.1 },
      classNames: ['background', 'cat', 'dog'],
      normalization,
      iteration: 42,
      trainingArgs: { lr: 0.01, batchSize: 2 },
      metrics: { mIoU: 0.5 },
      commandLine: ['seg', 'train', '--head', 'egb:exp'],
      optimizerState: momentum,
      trainingState,
    });
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json']);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['checkpoint']);

    const loaded = loadCheckpoint(dir, { expect: config });
    expect(loaded.config.model).toEqual(config);
    expect(loaded.config).toMatchObject({
      classNames: ['background', 'cat', 'dog'],
      iteration: 42,
      head: `egb:exp:alpha=${1 / 3},beta=0.1`,
      training: { lr: 0.01, batchSize: 2 },
      metrics: { mIoU: 0.5 },
      packageVersion: PACKAGE_VERSION,
      commandLine: 'seg train --head egb:exp',
      normalization,
    });
    expect(loaded.headSpec).toEqual({ kind: 'egb', boost: 'exp', alpha: 1 / 3, beta: 0.1 });
    expect(loaded.trainingState).toEqual(trainingState);
    expect(loaded.model.batchesTracked).toBe(1);
    const a = allWeights(model);
    const b = allWeights(loaded.model);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [n, v] of a) expect(b.get(n), n).toEqual(v);
    const opt = loaded.optimizerState as Map<string, tf.Tensor>;
    for (const [n, t] of momentum) {
      expect(opt.get(n)?.shape, n).toEqual(t.shape);
      expect(opt.get(n)?.dtype, n).toBe(t.dtype);
      expect(Array.from(opt.get(n)?.dataSync() ?? []), n).toEqual(Array.from(t.dataSync()));
    }
    // Same outputs.
    const x = tf.randomNormal([1, 20, 20, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y1 = tf.tidy(() => model.forward(x, { training: false }));
    const y2 = tf.tidy(() => loaded.model.forward(x, { training: false }));
    expect(Array.from(y2.dataSync())).toEqual(Array.from(y1.dataSync()));
    tf.dispose([x, y1, y2, ...momentum.values(), ...opt.values()]);
    model.dispose();
    loaded.model.dispose();
  });

  it('writes a torchvision state dict: OIHW kernels, num_batches_tracked', async () => {
    const model = trainedModel();
    const dir = path.join(tmp, 'torch');
    await saveCheckpoint(dir, { model, head: { kind: 'softmax' }, classNames: ['a', 'b', 'c'], normalization, iteration: 1 });
    const { tensors, metadata } = readSafetensors(path.join(dir, 'model.safetensors'));
    expect(metadata['format']).toBe('pt');
    const conv1 = tensors.get('backbone.conv1.weight');
    expect(conv1?.shape).toEqual([4, 3, 7, 7]);
    const hwio = (model.params.get('backbone.conv1.weight') as tf.Variable).dataSync();
    // OIHW (o=2, i=1, y=3, x=5) = HWIO (3, 5, 1, 2)
    expect(conv1?.data[((2 * 3 + 1) * 7 + 3) * 7 + 5]).toBe(hwio[((3 * 7 + 5) * 3 + 1) * 4 + 2]);
    expect(tensors.get('classifier.4.weight')?.shape).toEqual([3, 16, 1, 1]);
    expect(tensors.get('backbone.layer2.0.downsample.1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(tensors.has('classifier.0.convs.4.2.running_var')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'optimizer.safetensors'))).toBe(false);
    const loaded = loadCheckpoint(dir);
    expect(loaded.optimizerState).toBeUndefined();
    expect(loaded.trainingState).toBeUndefined();
    model.dispose();
    loaded.model.dispose();
  });

  it('replaces an older checkpoint atomically and keeps it on failure', async () => {
    const model = trainedModel();
    const dir = path.join(tmp, 'replace');
    const base = { model, head: { kind: 'softmax' } as const, classNames: ['a', 'b', 'c'], normalization };
    await saveCheckpoint(dir, { ...base, iteration: 1 });
    await saveCheckpoint(dir, { ...base, iteration: 2 });
    expect(readCheckpointConfig(dir).iteration).toBe(2);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('replace'))).toEqual(['replace']);
    // A failing save (a tensor of an unsupported dtype) leaves the old checkpoint as it was.
    const bad = new Map<string, tf.Tensor>([['x', tf.tensor1d([true], 'bool')]]);
    await expect(saveCheckpoint(dir, { ...base, iteration: 3, optimizerState: bad })).rejects.toThrow(/dtype bool/);
    expect(readCheckpointConfig(dir).iteration).toBe(2);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('replace'))).toEqual(['replace']);
    // A save that crashed while writing left a partial directory: the next save removes it.
    fs.mkdirSync(`${dir}.partial-99999`);
    await saveCheckpoint(dir, { ...base, iteration: 2 });
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('replace'))).toEqual(['replace']);
    // A save interrupted between the two renames: the previous checkpoint is found.
    fs.renameSync(dir, `${dir}.previous`);
    expect(loadCheckpoint(dir).config.iteration).toBe(2);
    fs.renameSync(`${dir}.previous`, dir);
    // Never replaces a directory with foreign files.
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await expect(saveCheckpoint(dir, { ...base, iteration: 4 })).rejects.toThrow(/notes\.txt/);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    bad.get('x')?.dispose();
    model.dispose();
  });

  it('refuses mismatching models, naming both sides', async () => {
    const model = trainedModel();
    const dir = path.join(tmp, 'mismatch');
    await saveCheckpoint(dir, { model, head: { kind: 'linear' }, classNames: ['a', 'b', 'c'], normalization, iteration: 5 });
    expect(() => loadCheckpoint(dir, { expect: { numClasses: 21, backbone: 'resnet50' } })).toThrow(
      /resnet18, output stride 8, width 0.0625, multi-grid, 3 classes.*backbone resnet50, numClasses 21 instead of backbone resnet18, numClasses 3/,
    );
    const other = createModel({ ...config, width: 0.125 }, 1);
    expect(() => loadCheckpointInto(other, dir)).toThrow(/width 0.125 instead of width 0.0625/);
    other.dispose();
    const same = createModel(config, 2);
    loadCheckpointInto(same, dir);
    const a = allWeights(model);
    for (const [n, v] of allWeights(same)) expect(v, n).toEqual(a.get(n));
    same.dispose();
    // A corrupted config and a missing directory are user errors.
    expect(() => loadCheckpoint(path.join(tmp, 'nowhere'))).toThrow(SegError);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"format": "other"}');
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json: format: got "other", expected one of seg-checkpoint/);
    model.dispose();
  });

  it('saves and loads the aux classifier strictly: aux tensors need an aux config, and the config must match', async () => {
    const aux = createModel({ ...config, auxClassifier: true }, 4);
    const dir = path.join(tmp, 'aux');
    await saveCheckpoint(dir, { model: aux, head: { kind: 'softmax' }, classNames: ['a', 'b', 'c'], normalization, iteration: 1 });
    expect(readCheckpointConfig(dir).model.auxClassifier).toBe(true);
    const tensors = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    expect(tensors.get('aux_classifier.0.weight')?.shape).toEqual([4, 16, 3, 3]); // layer3: 256 x 0.0625 channels, / 4
    expect(tensors.has('aux_classifier.1.num_batches_tracked')).toBe(true);
    const loaded = loadCheckpoint(dir);
    const a = allWeights(aux);
    for (const [n, v] of allWeights(loaded.model)) expect(v, n).toEqual(a.get(n));
    expect([...loaded.model.params.keys()].filter((k) => k.startsWith('aux_classifier.'))).toHaveLength(5);
    loaded.model.dispose();
    // Into a model without one: refused (the config differs), as is a model asked for without it.
    const plain = createModel(config, 1);
    expect(() => loadCheckpointInto(plain, dir)).toThrow(/auxClassifier false instead of auxClassifier true/);
    expect(() => loadCheckpoint(dir, { expect: { auxClassifier: undefined } })).toThrow(
      /auxClassifier false instead of auxClassifier true/,
    );
    // aux_classifier.* under a config without the aux classifier: strict loading refuses them, naming them.
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { model: Record<string, unknown> };
    delete cfg.model['auxClassifier'];
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    expect(() => loadCheckpoint(dir)).toThrow(
      /8 tensors the resnet18.* model does not have: aux_classifier\.0\.weight.*"auxClassifier": true/,
    );
    expect(() => loadCheckpointInto(plain, dir)).toThrow(/aux_classifier\.0\.weight/);
    plain.dispose();
    aux.dispose();
  });
});
