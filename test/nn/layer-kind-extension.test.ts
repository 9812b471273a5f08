/**
 * "Adding a kind is an addition": a per-channel `scale` layer declared, implemented and
 * registered here, in the test file, without touching src/, then run through every walker
 * (weights, init, forward, output shape, cost, memory, ONNX export).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { resizeBilinear } from '../../src/engine/resize.js';
import { Rng } from '../../src/core/random.js';
import type { LayerKind, LayerSpec } from '../../src/nn/layer-kind.js';
import { outputActivation } from '../../src/nn/layer-kind.js';
import { registerLayerKind } from '../../src/nn/layer-registry.js';
import { weightSpecs } from '../../src/nn/layer-spec.js';
import { initialValue } from '../../src/nn/layer-init.js';
import { runLayers } from '../../src/nn/layer-forward.js';
import { outputShape } from '../../src/nn/layer-shape.js';
import { layerCost } from '../../src/nn/layer-cost.js';
import { layerActivations } from '../../src/nn/layer-memory.js';
import { emitOnnxLayers } from '../../src/nn/layer-onnx.js';
import { OnnxGraphBuilder, decodeOnnxModel } from '../../src/export/onnx-graph.js';
import { addOnnxWeights } from '../../src/export/onnx-export.js';
import { loadOnnxRuntime } from '../../src/inference/engines/onnxruntime-loader.js';

/** y = x * weight, per channel; weight `${name}.weight` [channels], initialised to 1. */
interface ScaleSpec {
  kind: 'scale';
  name: string;
  channels: number;
}

declare module '../../src/nn/layer-kind.js' {
  interface LayerSpecMap {
    scale: ScaleSpec;
  }
}

const scaleKind: LayerKind<ScaleSpec> = {
  kind: 'scale',
  children: () => null,
  weights: (layer) => [{ name: `${layer.name}.weight`, shape: [layer.channels], role: 'param', layer }],
  init: (layer) => new Float32Array(layer.channels).fill(1),
  forward: (layer, x, ctx) => tf.mul(x, ctx.param(`${layer.name}.weight`)) as tf.Tensor4D,
  outputShape: (_layer, x) => x,
  flops: (_layer, _input, out) => out.height * out.width * out.channels,
  memory: (_layer, _input, out) => outputActivation('scale', out),
  onnx(layer, x, { graph }) {
    const w = graph.node('Reshape', [`${layer.name}.weight`, graph.int64Constant([1, layer.channels, 1, 1])]);
    return { name: graph.node('Mul', [x.name, w]), hw: x.hw };
  },
};
registerLayerKind(scaleKind);

const conv1: LayerSpec = { kind: 'conv', name: 'c1', inChannels: 3, outChannels: 4, kernel: 3, stride: 2, dilation: 1, bias: true };
const net: LayerSpec = {
  kind: 'sequential',
  name: 'net',
  layers: [conv1, { kind: 'scale', name: 's1', channels: 4 }, { kind: 'relu' }, { kind: 'resize', to: 'image' }],
};
const [N, H, W] = [2, 9, 11];
const SCALE = [0.5, -2, 3, 0];

function weights(): { params: Map<string, tf.Tensor>; buffers: Map<string, tf.Variable> } {
  const rng = new Rng(7);
  const params = new Map<string, tf.Tensor>();
  for (const w of weightSpecs(net)) {
    const data = w.name === 's1.weight' ? Float32Array.from(SCALE) : initialValue(w, rng).map((v, i) => v + 0.01 * i);
    params.set(w.name, tf.tensor(data, w.shape));
  }
  return { params, buffers: new Map() };
}

const image = (): tf.Tensor4D =>
  tf.tensor4d(
    Float32Array.from({ length: N * H * W * 3 }, (_, i) => Math.sin(0.37 * i)),
    [N, H, W, 3],
  );

describe('a layer kind registered from outside src/', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(() => tf.disposeVariables());

  it('has weights, named and initialised by the kind', () => {
    const specs = weightSpecs(net);
    expect(specs.map((w) => [w.name, w.shape])).toEqual([
      ['c1.weight', [3, 3, 3, 4]],
      ['c1.bias', [4]],
      ['s1.weight', [4]],
    ]);
    expect(Array.from(initialValue(specs[2] as (typeof specs)[number], new Rng(1)))).toEqual([1, 1, 1, 1]);
  });

  it('runs forward: relu(conv(x) * scale), resized to the image', () => {
    const w = weights();
    const [actual, expected] = tf.tidy(() => {
      const x = image();
      const conv = runLayers(conv1, x, w, { training: false });
      const manual = resizeBilinear(tf.relu(tf.mul(conv, tf.tensor1d(SCALE))) as tf.Tensor4D, [H, W]);
      return [runLayers(net, x, w, { training: false }), manual];
    });
    expect(actual.shape).toEqual([N, H, W, 4]);
    expect(Array.from(actual.dataSync())).toEqual(Array.from(expected.dataSync()));
    // Channel 3 is scaled by 0: all zero after relu.
    const channel3 = tf.tidy(() => tf.slice(actual, [0, 0, 0, 3], [N, H, W, 1]));
    expect(channel3.max().dataSync()[0]).toBe(0);
    tf.dispose([actual, expected, channel3]);
  });

  it('has an output shape, a cost and an activation count', () => {
    expect(outputShape(net, { height: H, width: W, channels: 3 })).toEqual({ height: H, width: W, channels: 4, stride: 1 });
    const cost = layerCost(net, { height: H, width: W, channels: 3 });
    // conv at 5x6x4 from 3 channels, 3x3: 2 * 5*6*4 * 3*9; scale: one multiply per value.
    expect(cost.flops).toBe(2 * 5 * 6 * 4 * 27 + 5 * 6 * 4);
    expect(cost.params).toBe(3 * 3 * 3 * 4 + 4 + 4);
    const memory = layerActivations(net, { height: H, width: W, channels: 3 });
    expect(memory.byKind.scale).toBe(120);
    expect(memory.byKind.conv).toBe(120);
    expect(memory.total).toBe(120 + 120 + 120 + H * W * 4);
    expect(memory.params).toBe(116);
  });

  it('exports to ONNX (and onnxruntime, where installed, gives the tfjs output)', async () => {
    const w = weights();
    const g = new OnnxGraphBuilder();
    const input = { name: g.addInput('image', 'float32', ['N', 3, 'H', 'W']), hw: null };
    await addOnnxWeights(g, net, w);
    const out = emitOnnxLayers(net, input, g);
    g.node('Identity', [out.name], {}, 'out');
    g.addOutput({ name: 'out', elemType: 'float32', dims: ['N', 4, 'H', 'W'] });
    const bytes = g.encode({ graphName: 'toy', producerVersion: 'test', metadata: {} });
    const ops = decodeOnnxModel(bytes).graph?.node?.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(['Conv', 'Reshape', 'Mul', 'Relu', 'Resize']));
    expect(ops?.indexOf('Mul')).toBeGreaterThan(ops?.indexOf('Conv') ?? Number.POSITIVE_INFINITY);

    const loaded = await loadOnnxRuntime();
    if ('reason' in loaded) {
      console.warn(`skipping the onnxruntime run of the toy kind: ${loaded.reason}`);
      return;
    }
    const ort = loaded.module;
    const nhwc = image();
    const expected = tf.tidy(() => tf.transpose(runLayers(net, nhwc, w, { training: false }), [0, 3, 1, 2]));
    const nchw = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]));
    const session = await ort.InferenceSession.create(bytes);
    try {
      const result = await session.run({ image: new ort.Tensor('float32', (await nchw.data()) as Float32Array, [N, 3, H, W]) });
      const actual = result.out?.data as Float32Array;
      const want = (await expected.data()) as Float32Array;
      expect(result.out?.dims).toEqual([N, 4, H, W]);
      let maxDiff = 0;
      for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs((actual[i] as number) - (want[i] as number)));
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      await session.release();
      tf.dispose([nhwc, expected, nchw]);
    }
  });
});
