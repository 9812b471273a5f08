/** body(x) + shortcut(x); an empty shortcut is the identity. */
import { tf } from '../../engine/tf.js';
import type { LayerKind, LayerSpec, T4 } from '../layer-kind.js';
import { noWeightsToInit, outputActivation } from '../layer-kind.js';

/** body(x) + shortcut(x); an empty shortcut is the identity. */
export interface ResidualSpec {
  kind: 'residual';
  name: string;
  body: LayerSpec[];
  shortcut: LayerSpec[];
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    residual: ResidualSpec;
  }
}

export const residualKind: LayerKind<ResidualSpec> = {
  kind: 'residual',
  children: (layer) => [...layer.body, ...layer.shortcut],
  weights: () => [],
  init: noWeightsToInit,
  forward(layer, x, ctx) {
    const body = layer.body.reduce((h, child) => ctx.run(child, h, x), x);
    const shortcut = layer.shortcut.reduce((h, child) => ctx.run(child, h, x), x);
    return tf.add(body, shortcut) as T4;
  },
  outputShape(layer, x, ctx) {
    const body = layer.body.reduce((h, child) => ctx.shape(child, h, x), x);
    layer.shortcut.reduce((h, child) => ctx.shape(child, h, x), x);
    return body;
  },
  flops: () => 0, // the add is not counted
  memory: (_layer, _input, out) => outputActivation('residualAdd', out),
  onnx(layer, x, ctx) {
    const body = layer.body.reduce((h, child) => ctx.emit(child, h, x), x);
    const shortcut = layer.shortcut.reduce((h, child) => ctx.emit(child, h, x), x);
    return { name: ctx.graph.node('Add', [body.name, shortcut.name]), hw: body.hw };
  },
};
