/**
 * Output shapes from a walk over a layer-spec tree, without tensors: each node's kind gives
 * its output shape, containers visiting their children. The cost and memory walks observe
 * this one walk.
 */
import type { LayerSpec, ShapeContext, TensorShape } from './layer-kind.js';
import { layerKind } from './layer-registry.js';

export type { TensorShape } from './layer-kind.js';

/** Called for every node: `enter` before its children, `leave` with its input and output shapes. */
export interface ShapeVisitor {
  enter?(layer: LayerSpec): void;
  leave?(layer: LayerSpec, input: TensorShape, output: TensorShape): void;
}

/** Walk `spec` from `input` (`image`: what `resize to: 'image'` targets); returns the output shape. */
export function walkShapes(spec: LayerSpec, input: TensorShape, image: TensorShape, visitor: ShapeVisitor = {}): TensorShape {
  const shape = (layer: LayerSpec, x: TensorShape, scopeInput: TensorShape): TensorShape => {
    visitor.enter?.(layer);
    const ctx: ShapeContext = { image, scopeInput, shape };
    const out = layerKind(layer).outputShape(layer, x, ctx);
    visitor.leave?.(layer, x, out);
    return out;
  };
  return shape(spec, input, input);
}

/** An input size as callers give it: stride 1 unless given (a subtree run on an intermediate). */
export interface InputShape {
  height: number;
  width: number;
  channels: number;
  stride?: number;
}

/** The walk's input and the image `resize to: 'image'` targets (default: the input). */
export function shapeWalkInputs(input: InputShape, image?: { height: number; width: number }): { input: TensorShape; image: TensorShape } {
  const x: TensorShape = { ...input, stride: input.stride ?? 1 };
  return { input: x, image: image !== undefined ? { ...image, channels: 3, stride: 1 } : x };
}

/** The output shape of `spec` on [height, width, channels]. */
export function outputShape(spec: LayerSpec, input: InputShape, image?: { height: number; width: number }): TensorShape {
  const start = shapeWalkInputs(input, image);
  return walkShapes(spec, start.input, start.image);
}
