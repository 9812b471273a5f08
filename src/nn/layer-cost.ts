/**
 * Shapes, parameter counts and FLOPs from a walk over a layer-spec tree, without tensors
 * (instant even for ResNet-101 at 513x513).
 *
 * Counted: parameters = trainable weights (conv kernels and biases, BN gamma and beta);
 * BN running statistics are reported apart as buffers. FLOPs = 2 x the multiply-adds of
 * the convolutions (every conv, including the 1x1 classifier and the image-pooling conv at
 * 1x1); bias adds, batch norm, ReLU, pooling, residual adds, concatenation and bilinear
 * resizing are not counted (together they are well under 1% for these models).
 */
import type { LayerSpec } from './layer-spec.js';
import { elementCount, layerWeights } from './layer-spec.js';

export interface TensorShape {
  height: number;
  width: number;
  channels: number;
  /** Input pixels per output pixel along one axis (the nominal output stride). */
  stride: number;
}

export interface StageCost {
  /** The `stage` label of a sequential spec (stem, layer1..layer4, aspp, decoder, upsample). */
  name: string;
  /** Output stride of the stage's output. */
  outputStride: number;
  /** Output channels. */
  channels: number;
  /** Output height and width. */
  height: number;
  width: number;
  params: number;
  flops: number;
}

export interface LayerCost {
  output: TensorShape;
  params: number;
  buffers: number;
  flops: number;
  stages: StageCost[];
}

/** Output size of a stride-2 conv or the 3x3/2 max pool with PyTorch padding. */
function strided(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}

interface Tally {
  params: number;
  buffers: number;
  flops: number;
  stages: StageCost[];
}

function walk(layer: LayerSpec, x: TensorShape, image: TensorShape, scopeInput: TensorShape, tally: Tally): TensorShape {
  for (const w of layerWeights(layer)) {
    if (w.role === 'param') tally.params += elementCount(w.shape);
    else tally.buffers += elementCount(w.shape);
  }
  switch (layer.kind) {
    case 'conv': {
      const height = strided(x.height, layer.stride);
      const width = strided(x.width, layer.stride);
      tally.flops += 2 * height * width * layer.outChannels * layer.inChannels * layer.kernel * layer.kernel;
      return { height, width, channels: layer.outChannels, stride: x.stride * layer.stride };
    }
    case 'maxPool':
      return { height: strided(x.height, 2), width: strided(x.width, 2), channels: x.channels, stride: x.stride * 2 };
    case 'globalAvgPool':
      return { height: 1, width: 1, channels: x.channels, stride: x.stride };
    case 'resize': {
      const target = layer.to === 'image' ? image : scopeInput;
      return { height: target.height, width: target.width, channels: x.channels, stride: target.stride };
    }
    case 'batchNorm':
    case 'relu':
    case 'dropout':
      return x;
    case 'sequential': {
      const before = { params: tally.params, flops: tally.flops };
      const out = layer.layers.reduce((h, child) => walk(child, h, image, x, tally), x);
      if (layer.stage !== undefined) {
        tally.stages.push({
          name: layer.stage,
          outputStride: out.stride,
          channels: out.channels,
          height: out.height,
          width: out.width,
          params: tally.params - before.params,
          flops: tally.flops - before.flops,
        });
      }
      return out;
    }
    case 'residual': {
      const body = layer.body.reduce((h, child) => walk(child, h, image, x, tally), x);
      layer.shortcut.reduce((h, child) => walk(child, h, image, x, tally), x);
      return body;
    }
    case 'concat': {
      const outs = layer.branches.map((branch) => walk(branch, x, image, x, tally));
      const first = outs[0] ?? x;
      return { ...first, channels: outs.reduce((sum, o) => sum + o.channels, 0) };
    }
  }
}

/**
 * Cost of running `spec` on an input of [height, width, channels] (and its stride, for a
 * subtree run on an intermediate); stages in execution order. `image` is what `resize to:
 * 'image'` layers resize to (default: the input).
 */
export function layerCost(
  spec: LayerSpec,
  inputShape: { height: number; width: number; channels: number; stride?: number },
  imageShape?: { height: number; width: number },
): LayerCost {
  const input: TensorShape = { ...inputShape, stride: inputShape.stride ?? 1 };
  const image: TensorShape = imageShape !== undefined ? { ...imageShape, channels: 3, stride: 1 } : input;
  const tally: Tally = { params: 0, buffers: 0, flops: 0, stages: [] };
  const output = walk(spec, input, image, input, tally);
  // A stage reports when it finishes; stages are not nested, so this is execution order.
  return { output, params: tally.params, buffers: tally.buffers, flops: tally.flops, stages: tally.stages };
}
