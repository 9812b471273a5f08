/**
 * Parameter count, FLOPs and a per-stage table for a model config, from a walk over its
 * spec tree (no tensors, instant). What is counted: see nn/layer-cost.ts
 * (params = trainable weights incl. BN gamma/beta; FLOPs = 2 x conv multiply-adds). The aux
 * classifier counts in the parameters (as torchvision's `aux_loss=True` models) and is
 * reported apart for FLOPs, which are the inference forward's.
 */
import { layerCost, type StageCost } from '../nn/layer-cost.js';
import { SegError } from '../core/errors.js';
import { AUX_SOURCE, type ModelConfig, deeplabSpec } from './deeplab-spec.js';

export interface ModelDescription {
  config: ModelConfig;
  inputSize: [number, number];
  /** Trainable weights (conv kernels and biases, BN gamma and beta). */
  params: number;
  /** BN running statistics (not trainable, not in `params`). */
  buffers: number;
  /** 2 x multiply-adds of every conv of the inference forward (the aux classifier excluded), one image of `inputSize`. */
  flops: number;
  /** The inference forward's stages; their params and flops sum to `params` and `flops` (without aux). */
  stages: StageCost[];
  /** The aux classifier (run in training only), when the config has one: in `params`, not in `flops`. */
  aux?: StageCost;
}

/** The shape the aux classifier reads: layer3's output (AUX_SOURCE), from the main tree's stages. */
export function auxInputShape(stages: readonly StageCost[]): { height: number; width: number; channels: number; stride: number } {
  const layer3 = stages.find((s) => `backbone.${s.name}` === AUX_SOURCE);
  if (layer3 === undefined) throw new Error(`describe: no stage ${AUX_SOURCE}`);
  return { height: layer3.height, width: layer3.width, channels: layer3.channels, stride: layer3.outputStride };
}

/** Describe the model for one image of `inputSize` (a side or [height, width]). */
export function describeModel(config: ModelConfig, inputSize: number | [number, number]): ModelDescription {
  const [height, width] = typeof inputSize === 'number' ? [inputSize, inputSize] : inputSize;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new SegError(`input size: got ${height}x${width}, expected positive integers`);
  }
  const { root, aux } = deeplabSpec(config);
  const cost = layerCost(root, { height, width, channels: 3 });
  const description: ModelDescription = {
    config,
    inputSize: [height, width],
    params: cost.params,
    buffers: cost.buffers,
    flops: cost.flops,
    stages: cost.stages,
  };
  if (aux === undefined) return description;
  const auxCost = layerCost(aux, auxInputShape(cost.stages), { height, width });
  const stage = auxCost.stages.find((s) => s.name === 'aux');
  if (stage === undefined) throw new Error('describe: the aux classifier has no stage');
  return { ...description, params: cost.params + auxCost.params, buffers: cost.buffers + auxCost.buffers, aux: stage };
}
