/**
 * Initial weights for a layer-spec tree, as torchvision's ResNet initialises them: conv
 * kernels Kaiming-normal (fan_out, ReLU gain: std = sqrt(2 / (out * k * k))) unless the spec
 * sets `initStd` (the final classifier: 0.01, as mmsegmentation), conv biases 0,
 * BN gamma 1 and beta 0, running mean 0 and running variance 1. Every draw comes from the
 * given Rng, walking the weights in execution order, so a seed fixes the model.
 */
import type { Rng } from '../core/random.js';
import type { WeightSpec } from './layer-spec.js';
import { elementCount } from './layer-spec.js';

/** The initial values of one weight. */
export function initialValue(weight: WeightSpec, rng: Rng): Float32Array {
  const size = elementCount(weight.shape);
  const data = new Float32Array(size);
  const layer = weight.layer;
  if (layer.kind === 'conv') {
    if (weight.name.endsWith('.weight')) {
      const std = layer.initStd ?? Math.sqrt(2 / (layer.outChannels * layer.kernel * layer.kernel));
      for (let i = 0; i < size; i++) data[i] = rng.normal() * std;
    }
    return data;
  }
  if (weight.name.endsWith('.weight') || weight.name.endsWith('.running_var')) data.fill(1);
  return data;
}
