/** ReLU. */
import { tf } from '../../engine/tf.js';
import type { LayerKind } from '../layer-kind.js';
import { noWeightsToInit, outputActivation } from '../layer-kind.js';

export interface ReluSpec {
  kind: 'relu';
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    relu: ReluSpec;
  }
}

export const reluKind: LayerKind<ReluSpec> = {
  kind: 'relu',
  children: () => null,
  weights: () => [],
  init: noWeightsToInit,
  forward: (_layer, x) => tf.relu(x),
  outputShape: (_layer, x) => x,
  flops: () => 0,
  memory: (_layer, _input, out) => outputActivation('relu', out),
  onnx: (_layer, x, { graph }) => ({ name: graph.node('Relu', [x.name]), hw: x.hw }),
};
