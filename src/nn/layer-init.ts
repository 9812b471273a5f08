/**
 * Initial weights for a layer-spec tree, as torchvision's ResNet initialises them (each
 * kind's `init`, nn/layers/): conv kernels Kaiming-normal (fan_out, ReLU gain: std =
 * sqrt(2 / (out * k * k))) unless the spec sets `initStd` (the final classifier: 0.01, as
 * mmsegmentation), conv biases 0, BN gamma 1 and beta 0, running mean 0 and running
 * variance 1. Every draw comes from the given Rng, walking the weights in execution order,
 * so a seed fixes the model.
 */
import type { Rng } from '../core/random.js';
import type { WeightSpec } from './layer-kind.js';
import { layerKind } from './layer-registry.js';

/** The initial values of one weight. */
export function initialValue(weight: WeightSpec, rng: Rng): Float32Array {
  return layerKind(weight.layer).init(weight.layer, weight, rng);
}
