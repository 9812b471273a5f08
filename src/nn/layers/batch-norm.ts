/**
 * Batch norm. In training mode it normalises with batch statistics and updates the running
 * statistics in place (PyTorch: momentum 0.1, unbiased variance for the running estimate);
 * with `freezeBn` (or in inference) it uses the running statistics.
 */
import { tf } from '../../engine/tf.js';
import { batchNormInfer, batchNormTrain } from '../../engine/batch-norm.js';
import { inPlaceBackend, runningStatInPlace } from '../../engine/in-place-update.js';
import { FieldError } from '../../core/schema.js';
import type { LayerKind } from '../layer-kind.js';
import { elementCount, outputActivation } from '../layer-kind.js';

type T1 = tf.Tensor1D;

/** Batch norm: params `${name}.weight|bias`, buffers `${name}.running_mean|running_var`. */
export interface BatchNormSpec {
  kind: 'batchNorm';
  name: string;
  channels: number;
  eps: number;
  /** PyTorch's momentum for the running statistics. */
  momentum: number;
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    batchNorm: BatchNormSpec;
  }
}

/** stat = keep * stat + take * batchStat: in the state's own buffer on webgpu, by `assign` elsewhere. */
function updateRunningStat(stat: tf.Variable, batchStat: tf.Tensor, keep: number, take: number): void {
  const backend = inPlaceBackend(stat);
  if (backend !== undefined) runningStatInPlace(backend, stat, batchStat, keep, take);
  else stat.assign(tf.tidy(() => tf.add(tf.mul(stat, keep), tf.mul(batchStat, take))));
}

export const batchNormKind: LayerKind<BatchNormSpec> = {
  kind: 'batchNorm',
  children: () => null,
  weights(layer) {
    const c = [layer.channels];
    return [
      { name: `${layer.name}.weight`, shape: c, role: 'param', layer },
      { name: `${layer.name}.bias`, shape: c, role: 'param', layer },
      { name: `${layer.name}.running_mean`, shape: c, role: 'buffer', layer },
      { name: `${layer.name}.running_var`, shape: c, role: 'buffer', layer },
    ];
  },
  /** gamma 1, beta 0, running mean 0, running variance 1. */
  init(_layer, weight) {
    const data = new Float32Array(elementCount(weight.shape));
    if (weight.name.endsWith('.weight') || weight.name.endsWith('.running_var')) data.fill(1);
    return data;
  },
  forward(layer, x, ctx) {
    const gamma = ctx.param(`${layer.name}.weight`) as T1;
    const beta = ctx.param(`${layer.name}.bias`) as T1;
    const runningMean = ctx.buffer(`${layer.name}.running_mean`);
    const runningVar = ctx.buffer(`${layer.name}.running_var`);
    if (!ctx.options.training || ctx.options.freezeBn === true) {
      return batchNormInfer(x, gamma, beta, runningMean as T1, runningVar as T1, layer.eps);
    }
    const count = x.shape[0] * x.shape[1] * x.shape[2];
    if (count < 2) {
      throw new FieldError(
        'batch',
        `batch norm ${layer.name} in training mode sees one value per channel (batch size 1 at ${x.shape[1]}x${x.shape[2]}); ` +
          'use a batch of at least 2, or freeze the batch-norm statistics (`freezeBn`)',
      );
    }
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, layer.eps);
    const m = layer.momentum;
    const unbiased = count / (count - 1);
    updateRunningStat(runningMean, mean, 1 - m, m);
    updateRunningStat(runningVar, variance, 1 - m, m * unbiased);
    return y;
  },
  outputShape: (_layer, x) => x,
  flops: () => 0, // not counted (well under 1% for these models), as bias adds and pooling
  memory: (_layer, _input, out) => outputActivation('batchNorm', out),
  onnx(layer, x, { graph }) {
    const p = layer.name;
    const name = graph.node('BatchNormalization', [x.name, `${p}.weight`, `${p}.bias`, `${p}.running_mean`, `${p}.running_var`], {
      epsilon: { float: layer.eps },
    });
    return { name, hw: x.hw };
  },
};
