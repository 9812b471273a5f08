/** Layers applied in order; the container whose input `resize to: 'scopeInput'` targets. */
import type { LayerKind, LayerSpec } from '../layer-kind.js';
import { noWeightsToInit } from '../layer-kind.js';

/** Layers applied in order. `stage` marks the groups reported by `seg info`. */
export interface SequentialSpec {
  kind: 'sequential';
  name: string;
  stage?: string;
  layers: LayerSpec[];
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    sequential: SequentialSpec;
  }
}

export const sequentialKind: LayerKind<SequentialSpec> = {
  kind: 'sequential',
  children: (layer) => layer.layers,
  weights: () => [],
  init: noWeightsToInit,
  forward(layer, x, ctx) {
    const out = layer.layers.reduce((h, child) => ctx.run(child, h, x), x);
    ctx.tap(layer.name, out);
    return out;
  },
  outputShape: (layer, x, ctx) => layer.layers.reduce((h, child) => ctx.shape(child, h, x), x),
  flops: () => 0,
  memory: () => [], // its output is its last child's
  onnx: (layer, x, ctx) => layer.layers.reduce((h, child) => ctx.emit(child, h, x), x),
};
