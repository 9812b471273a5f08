import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { runLayers, type LayerWeights } from '../../src/nn/layer-forward.js';
import type { BatchNormSpec, LayerSpec } from '../../src/nn/layer-spec.js';
import { layerCost } from '../../src/nn/layer-cost.js';
import { Rng } from '../../src/core/random.js';
import { SegError } from '../../src/core/errors.js';

const bnSpec: BatchNormSpec = { kind: 'batchNorm', name: 'bn', channels: 1, eps: 1e-5, momentum: 0.1 };

function bnWeights(): LayerWeights & { buffers: Map<string, tf.Variable> } {
  return {
    params: new Map<string, tf.Tensor>([
      ['bn.weight', tf.tensor1d([2])],
      ['bn.bias', tf.tensor1d([1])],
    ]),
    buffers: new Map([
      ['bn.running_mean', tf.variable(tf.tensor1d([0]), false)],
      ['bn.running_var', tf.variable(tf.tensor1d([1]), false)],
    ]),
  };
}

const x = (): tf.Tensor4D => tf.tensor4d([1, 2, 3, 6], [2, 1, 2, 1]);

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('layer forward', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => tf.disposeVariables());

  it('batch norm in training uses batch statistics and updates running ones (unbiased, momentum 0.1)', () => {
    const w = bnWeights();
    const y = tf.tidy(() => runLayers(bnSpec, x(), w, { training: true }));
    // mean 3, biased variance 3.5, unbiased 14/3
    const expected = [1, 2, 3, 6].map((v) => (2 * (v - 3)) / Math.sqrt(3.5 + 1e-5) + 1);
    values(y).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    expect(values(w.buffers.get('bn.running_mean') as tf.Variable)[0]).toBeCloseTo(0.3, 6);
    expect(values(w.buffers.get('bn.running_var') as tf.Variable)[0]).toBeCloseTo(0.9 + 0.1 * (14 / 3), 6);
  });

  it('batch norm in inference and with freezeBn uses running statistics and leaves them alone', () => {
    const w = bnWeights();
    (w.buffers.get('bn.running_mean') as tf.Variable).assign(tf.tensor1d([0.5]));
    (w.buffers.get('bn.running_var') as tf.Variable).assign(tf.tensor1d([4]));
    const expected = [1, 2, 3, 6].map((v) => (2 * (v - 0.5)) / Math.sqrt(4 + 1e-5) + 1);
    for (const options of [{ training: false }, { training: true, freezeBn: true }]) {
      const y = tf.tidy(() => runLayers(bnSpec, x(), w, options));
      values(y).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
      expect(values(w.buffers.get('bn.running_mean') as tf.Variable)).toEqual([0.5]);
      expect(values(w.buffers.get('bn.running_var') as tf.Variable)).toEqual([4]);
    }
  });

  it('refuses training batch norm over a single value per channel', () => {
    const w = bnWeights();
    expect(() => runLayers(bnSpec, tf.ones([1, 1, 1, 1]) as tf.Tensor4D, w, { training: true })).toThrow(SegError);
  });

  it('walks residual, concat, resize and conv with bias', () => {
    // 1x1 conv doubling the channel and adding 1; residual adds the input back;
    // concat puts the residual next to an image-pooling branch upsampled to its input size.
    const spec: LayerSpec = {
      kind: 'sequential',
      name: 'root',
      layers: [
        {
          kind: 'concat',
          name: 'cat',
          branches: [
            {
              kind: 'sequential',
              name: 'a',
              layers: [
                {
                  kind: 'residual',
                  name: 'r',
                  body: [{ kind: 'conv', name: 'c', inChannels: 1, outChannels: 1, kernel: 1, stride: 1, dilation: 1, bias: true }],
                  shortcut: [],
                },
              ],
            },
            { kind: 'sequential', name: 'b', layers: [{ kind: 'globalAvgPool' }, { kind: 'resize', to: 'scopeInput' }] },
          ],
        },
        { kind: 'relu' },
      ],
    };
    const weights: LayerWeights = {
      params: new Map<string, tf.Tensor>([
        ['c.weight', tf.tensor4d([2], [1, 1, 1, 1])],
        ['c.bias', tf.tensor1d([1])],
      ]),
      buffers: new Map(),
    };
    const input = tf.tensor4d([1, -2, 3, -6], [1, 2, 2, 1]);
    const y = runLayers(spec, input, weights, { training: false });
    expect(y.shape).toEqual([1, 2, 2, 2]);
    // residual: 3v + 1 -> [4, -5, 10, -17] then relu; pooled mean -1 -> relu 0.
    expect(values(y)).toEqual([4, 0, 0, 0, 10, 0, 0, 0]);
    const cost = layerCost(spec, { height: 2, width: 2, channels: 1 });
    expect([cost.params, cost.flops, cost.output.channels]).toEqual([2, 2 * 4, 2]);
  });

  it('applies dropout only in training with an Rng, reproducibly', () => {
    const spec: LayerSpec = { kind: 'dropout', rate: 0.5 };
    const none: LayerWeights = { params: new Map(), buffers: new Map() };
    const input = tf.ones([1, 8, 8, 4]) as tf.Tensor4D;
    expect(values(runLayers(spec, input, none, { training: true }))).toEqual(values(input));
    expect(values(runLayers(spec, input, none, { training: false, dropoutRng: new Rng(1) }))).toEqual(values(input));
    const a = values(runLayers(spec, input, none, { training: true, dropoutRng: new Rng(7) }));
    const b = values(runLayers(spec, input, none, { training: true, dropoutRng: new Rng(7) }));
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([0, 2]));
  });
});
