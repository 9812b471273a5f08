/** ReLU. */
import { tf } from '../../engine/tf.js';
import type { LayerKind } from '../layer-kind.js';
import { WEIGHTLESS_LEAF, outputActivation } from '../layer-kind.js';

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
  ...WEIGHTLESS_LEAF,
  forward: (_layer, x) => tf.relu(x),
  outputShape: (_layer, x) => x,
  memory: (_layer, _input, out) => outputActivation('relu', out),
  onnx: (_layer, x, { graph }) => ({ name: graph.node('Relu', [x.name]), hw: x.hw }),
};
