/**
 * The layer vocabulary: a model is a tree of these specs plus a map of weights keyed by
 * torchvision parameter names. Every consumer (forward pass, parameter/FLOP counting,
 * weight init, memory estimate, checkpoints, pretrained import, ONNX export) walks the same tree;
 * none of them re-describes the architecture. Each kind is one file in nn/layers/ (see
 * nn/layer-kind.ts for the contract); this module re-exports the built-in spec types and
 * walks the tree for its leaves and weights.
 *
 * Leaves carry their full torchvision module name (e.g. `backbone.layer1.0.conv1`), so
 * the grouping of the tree is free to follow the computation rather than torch's modules.
 */
import type { BatchNormSpec } from './layers/batch-norm.js';
import type { LayerSpec, WeightSpec } from './layer-kind.js';
import { layerKind } from './layer-registry.js';

export type { LayerSpec, LayerSpecMap, WeightRole, WeightSpec } from './layer-kind.js';
export { elementCount } from './layer-kind.js';
export type { BatchNormSpec } from './layers/batch-norm.js';
export type { ConcatSpec } from './layers/concat.js';
export type { ConvSpec } from './layers/conv.js';
export type { DropoutSpec } from './layers/dropout.js';
export type { GlobalAvgPoolSpec } from './layers/global-avg-pool.js';
export type { MaxPoolSpec } from './layers/max-pool.js';
export type { ReluSpec } from './layers/relu.js';
export type { ResidualSpec } from './layers/residual.js';
export type { ResizeSpec } from './layers/resize.js';
export type { SequentialSpec } from './layers/sequential.js';

/** Every node, depth first (a container before its children), in execution order. */
function nodes(spec: LayerSpec): LayerSpec[] {
  const out: LayerSpec[] = [];
  const visit = (node: LayerSpec): void => {
    out.push(node);
    layerKind(node).children(node)?.forEach(visit);
  };
  visit(spec);
  return out;
}

/** The leaves (nodes that are not containers), depth first, in execution order. */
export function leaves(spec: LayerSpec): LayerSpec[] {
  return nodes(spec).filter((node) => layerKind(node).children(node) === null);
}

/** The weights of one node itself (none for weightless layers and containers). */
export function layerWeights(layer: LayerSpec): WeightSpec[] {
  return layerKind(layer).weights(layer);
}

/** Every weight of the tree, in execution order (a container's own before its children's). */
export function weightSpecs(spec: LayerSpec): WeightSpec[] {
  return nodes(spec).flatMap(layerWeights);
}

/** The batch-norm leaves (for PyTorch's `num_batches_tracked` and BN mode checks). */
export function batchNormLayers(spec: LayerSpec): BatchNormSpec[] {
  return leaves(spec).filter((l): l is BatchNormSpec => l.kind === 'batchNorm');
}
