/**
 * Parameter count, FLOPs and a per-stage table for a model config, from a walk over its
 * spec tree (no tensors, instant). What is counted: see backbones/layer-cost.ts
 * (params = trainable weights incl. BN gamma/beta; FLOPs = 2 x conv multiply-adds).
 */
import { layerCost, type StageCost } from '../nn/layer-cost.js';
import { SegError } from '../core/errors.js';
import { type ModelConfig, deeplabSpec } from './deeplab-spec.js';

export interface ModelDescription {
  config: ModelConfig;
  inputSize: [number, number];
  /** Trainable weights (conv kernels and biases, BN gamma and beta). */
  params: number;
  /** BN running statistics (not trainable, not in `params`). */
  buffers: number;
  /** 2 x multiply-adds of every conv, one image of `inputSize`. */
  flops: number;
  stages: StageCost[];
}

/** Describe the model for one image of `inputSize` (a side or [height, width]). */
export function describeModel(config: ModelConfig, inputSize: number | [number, number]): ModelDescription {
  const [height, width] = typeof inputSize === 'number' ? [inputSize, inputSize] : inputSize;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new SegError(`input size: got ${height}x${width}, expected positive integers`);
  }
  const { root } = deeplabSpec(config);
  const cost = layerCost(root, { height, width, channels: 3 });
  return { config, inputSize: [height, width], params: cost.params, buffers: cost.buffers, flops: cost.flops, stages: cost.stages };
}
