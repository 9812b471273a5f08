/** Branches applied to the same input, concatenated along channels. */
import { tf } from '../../engine/tf.js';
import type { LayerKind, T4 } from '../layer-kind.js';
import { noWeightsToInit, outputActivation } from '../layer-kind.js';
import type { SequentialSpec } from './sequential.js';

/** Branches applied to the same input, concatenated along channels. */
export interface ConcatSpec {
  kind: 'concat';
  name: string;
  branches: SequentialSpec[];
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    concat: ConcatSpec;
  }
}

export const concatKind: LayerKind<ConcatSpec> = {
  kind: 'concat',
  children: (layer) => layer.branches,
  weights: () => [],
  init: noWeightsToInit,
  forward: (layer, x, ctx) =>
    tf.concat(
      layer.branches.map((branch) => ctx.run(branch, x, x)),
      3,
    ) as T4,
  outputShape(layer, x, ctx) {
    const outs = layer.branches.map((branch) => ctx.shape(branch, x, x));
    const first = outs[0] ?? x;
    return { ...first, channels: outs.reduce((sum, o) => sum + o.channels, 0) };
  },
  flops: () => 0,
  memory: (_layer, _input, out) => outputActivation('concat', out),
  onnx(layer, x, ctx) {
    const branches = layer.branches.map((branch) => ctx.emit(branch, x, x));
    return {
      name: ctx.graph.node(
        'Concat',
        branches.map((b) => b.name),
        { axis: 1 },
      ),
      hw: branches[0]?.hw ?? null,
    };
  },
};
