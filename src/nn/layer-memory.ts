/**
 * Activation sizes from a walk over a layer-spec tree, without tensors: how many float32
 * values each kind of layer produces for one image, and the largest single tensor. The
 * memory estimate (segmentation/memory-estimate.ts) weighs these per kind, because a
 * layer kind's forward and backward create a fixed number of tensors of its output size.
 */
import type { LayerSpec } from './layer-spec.js';
import { elementCount, layerWeights } from './layer-spec.js';

/** What produced an activation: a leaf kind, or the add of a residual / the concat of branches. */
export type ActivationKind = 'conv' | 'batchNorm' | 'relu' | 'maxPool' | 'globalAvgPool' | 'dropout' | 'resize' | 'residualAdd' | 'concat';

export interface ActivationTally {
  /** Values (float32) produced per image, by kind. */
  byKind: Record<ActivationKind, number>;
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

function strided(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
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
  const tally: ActivationTally = { byKind: emptyKinds(), total: 0, largest: 0, output: 0, params: 0, buffers: 0 };
  const produce = (kind: ActivationKind, s: Shape): Shape => {
    const n = s.height * s.width * s.channels;
    tally.byKind[kind] += n;
    tally.total += n;
    tally.largest = Math.max(tally.largest, n);
    return s;
  };
  const walk = (layer: LayerSpec, x: Shape, scopeInput: Shape): Shape => {
    for (const w of layerWeights(layer)) {
      if (w.role === 'param') tally.params += elementCount(w.shape);
      else tally.buffers += elementCount(w.shape);
    }
    switch (layer.kind) {
      case 'conv':
        return produce('conv', {
          height: strided(x.height, layer.stride),
          width: strided(x.width, layer.stride),
          channels: layer.outChannels,
        });
      case 'maxPool':
        return produce('maxPool', { height: strided(x.height, 2), width: strided(x.width, 2), channels: x.channels });
      case 'globalAvgPool':
        return produce('globalAvgPool', { height: 1, width: 1, channels: x.channels });
      case 'resize': {
        const target = layer.to === 'image' ? image : scopeInput;
        return produce('resize', { height: target.height, width: target.width, channels: x.channels });
      }
      case 'batchNorm':
      case 'relu':
      case 'dropout':
        return produce(layer.kind, x);
      case 'sequential':
        return layer.layers.reduce((h, child) => walk(child, h, x), x);
      case 'residual': {
        const body = layer.body.reduce((h, child) => walk(child, h, x), x);
        layer.shortcut.reduce((h, child) => walk(child, h, x), x);
        return produce('residualAdd', body);
      }
      case 'concat': {
        const outs = layer.branches.map((branch) => walk(branch, x, x));
        const first = outs[0] ?? x;
        return produce('concat', { ...first, channels: outs.reduce((sum, o) => sum + o.channels, 0) });
      }
    }
  };
  const out = walk(spec, input, input);
  tally.output = out.height * out.width * out.channels;
  return tally;
}
