/**
 * Activation sizes from a walk over a layer-spec tree, without tensors: how many float32
 * values each kind of layer produces for one image (each kind's `memory`), and the largest
 * single tensor. The memory estimate (segmentation/memory-estimate.ts) weighs the total,
 * because a layer's forward and backward create about a fixed number of tensors of its
 * output size.
 */
import type { LayerSpec, TensorShape } from './layer-kind.js';
import { countWeights } from './layer-kind.js';
import { layerKind } from './layer-registry.js';
import { walkShapes } from './layer-shape.js';

/**
 * What produced an activation: the built-in labels are the leaf kinds and the add of a
 * residual / the concat of branches; a registered kind may add its own.
 */
export type ActivationKind = 'conv' | 'batchNorm' | 'relu' | 'maxPool' | 'globalAvgPool' | 'dropout' | 'resize' | 'residualAdd' | 'concat';

export interface ActivationTally {
  /** Values (float32) produced per image, by label (the built-in labels always present). */
  byKind: Record<ActivationKind, number> & Record<string, number>;
  /** All of byKind. */
  total: number;
  /** The largest single activation, in values per image. */
  largest: number;
  /** Values of the network's output (per image). */
  output: number;
  /** Trainable weights (values). */
  params: number;
  /** Non-trainable weights (BN running statistics). */
  buffers: number;
}

interface Shape {
  height: number;
  width: number;
  channels: number;
}

function emptyKinds(): Record<ActivationKind, number> {
  return { conv: 0, batchNorm: 0, relu: 0, maxPool: 0, globalAvgPool: 0, dropout: 0, resize: 0, residualAdd: 0, concat: 0 };
}

/**
 * Activation values produced by running `spec` on one image of [height, width, channels];
 * `image` is what `resize to: 'image'` layers resize to (default: the input), for a subtree
 * run on an intermediate.
 */
export function layerActivations(spec: LayerSpec, input: Shape, image: { height: number; width: number } = input): ActivationTally {
  const byKind: Record<ActivationKind, number> & Record<string, number> = emptyKinds();
  const tally: ActivationTally = { byKind, total: 0, largest: 0, output: 0, params: 0, buffers: 0 };
  const x: TensorShape = { height: input.height, width: input.width, channels: input.channels, stride: 1 };
  const target: TensorShape = { height: image.height, width: image.width, channels: input.channels, stride: 1 };
  const out = walkShapes(spec, x, target, {
    leave(layer, from, to) {
      const kind = layerKind(layer);
      countWeights(kind.weights(layer), tally);
      for (const { label, values } of kind.memory(layer, from, to)) {
        byKind[label] = (byKind[label] ?? 0) + values;
        tally.total += values;
        tally.largest = Math.max(tally.largest, values);
      }
    },
  });
  tally.output = out.height * out.width * out.channels;
  return tally;
}
