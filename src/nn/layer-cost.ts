/**
 * Shapes, parameter counts and FLOPs from a walk over a layer-spec tree, without tensors
 * (instant even for ResNet-101 at 513x513).
 *
 * Counted: parameters = trainable weights (conv kernels and biases, BN gamma and beta);
 * BN running statistics are reported apart as buffers. FLOPs = what each kind's `flops`
 * says: 2 x the multiply-adds of the convolutions (every conv, including the 1x1 classifier
 * and the image-pooling conv at 1x1); bias adds, batch norm, ReLU, pooling, residual adds,
 * concatenation and bilinear resizing are not counted (together they are well under 1% for
 * these models).
 */
import type { LayerSpec, TensorShape } from './layer-kind.js';
import { countWeights } from './layer-kind.js';
import { layerKind } from './layer-registry.js';
import { type InputShape, shapeWalkInputs, walkShapes } from './layer-shape.js';

export type { TensorShape } from './layer-kind.js';

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

/** A node's `stage` label, if its spec has one (sequentials). */
function stageOf(layer: LayerSpec): string | undefined {
  return 'stage' in layer && typeof layer.stage === 'string' ? layer.stage : undefined;
}

/**
 * Cost of running `spec` on an input of [height, width, channels] (and its stride, for a
 * subtree run on an intermediate); stages in execution order. `image` is what `resize to:
 * 'image'` layers resize to (default: the input).
 */
export function layerCost(spec: LayerSpec, inputShape: InputShape, imageShape?: { height: number; width: number }): LayerCost {
  const { input, image } = shapeWalkInputs(inputShape, imageShape);
  const tally = { params: 0, buffers: 0, flops: 0 };
  const stages: StageCost[] = [];
  const open: { params: number; flops: number }[] = [];
  const output = walkShapes(spec, input, image, {
    enter(layer) {
      if (stageOf(layer) !== undefined) open.push({ params: tally.params, flops: tally.flops });
    },
    leave(layer, x, out) {
      const kind = layerKind(layer);
      countWeights(kind.weights(layer), tally);
      tally.flops += kind.flops(layer, x, out);
      const stage = stageOf(layer);
      const before = stage !== undefined ? open.pop() : undefined;
      // A stage reports when it finishes; stages are not nested, so this is execution order.
      if (stage !== undefined && before !== undefined) {
        stages.push({
          name: stage,
          outputStride: out.stride,
          channels: out.channels,
          height: out.height,
          width: out.width,
          params: tally.params - before.params,
          flops: tally.flops - before.flops,
        });
      }
    },
  });
  return { output, ...tally, stages };
}
