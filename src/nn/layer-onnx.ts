/**
 * ONNX emission: a walk over a layer-spec tree, each node emitted by its kind (nn/layers/)
 * as NCHW opset-17 nodes on a graph builder (export/onnx-graph.ts implements `OnnxGraph`;
 * export/onnx-export.ts writes the whole model around this walk).
 */
import type { LayerSpec, OnnxContext, OnnxGraph, OnnxValue } from './layer-kind.js';
import { layerKind } from './layer-registry.js';

export type { OnnxAttribute, OnnxGraph, OnnxValue } from './layer-kind.js';

/** Emit `spec` on `x`; `image` is what `resize to: 'image'` targets (default: `x`). Returns the output value. */
export function emitOnnxLayers(spec: LayerSpec, x: OnnxValue, graph: OnnxGraph, image: OnnxValue = x): OnnxValue {
  const emit = (layer: LayerSpec, h: OnnxValue, scopeInput: OnnxValue): OnnxValue => {
    const ctx: OnnxContext = { graph, image, scopeInput, emit };
    return layerKind(layer).onnx(layer, h, ctx);
  };
  return emit(spec, x, x);
}
