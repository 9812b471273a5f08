/**
 * The forward pass: a walk over a layer-spec tree with tfjs ops that train on every
 * backend (src/engine). Batch norm in training mode normalises with batch statistics and
 * updates the running statistics in place (PyTorch: momentum 0.1, unbiased variance for
 * the running estimate); with `freezeBn` (or in inference) it uses the running statistics.
 */
import { tf } from '../engine/tf.js';
import { conv2d } from '../engine/conv2d.js';
import { batchNormInfer, batchNormTrain } from '../engine/batch-norm.js';
import { inPlaceBackend, runningStatInPlace } from '../engine/in-place-update.js';
import { globalAvgPool, maxPool3x3s2 } from '../engine/pool.js';
import { resizeBilinear } from '../engine/resize.js';
import { FieldError } from '../core/schema.js';
import type { Rng } from '../core/random.js';
import { dropoutNoise } from './dropout-noise.js';
import type { BatchNormSpec, ConvSpec, LayerSpec } from './layer-spec.js';

type T4 = tf.Tensor4D;
type T1 = tf.Tensor1D;

export interface ForwardOptions {
  /** Training mode: batch-norm batch statistics (unless freezeBn) and dropout (if dropoutRng). */
  training: boolean;
  /** In training, normalise with (and keep) the running statistics: for small batches. */
  freezeBn?: boolean;
  /**
   * Dropout draws its masks from this generator in training; without it, dropout layers are
   * the identity (deterministic training, no RNG state to checkpoint).
   */
  dropoutRng?: Rng;
  /**
   * Uniform [0, 1) noise for one dropout layer of this shape, drawn from `dropoutRng` by the
   * caller (a captured step feeds it from a buffer of its own); without it, runDropout draws
   * it here, with one `dropoutRng.nextU32()` seed per layer either way.
   */
  dropoutNoise?: (shape: readonly number[], rng: Rng) => tf.Tensor;
}

export interface LayerWeights {
  /** Trainable weights by name (convs HWIO). */
  params: ReadonlyMap<string, tf.Tensor>;
  /** BN running statistics by name; assigned in place in training mode. */
  buffers: ReadonlyMap<string, tf.Variable>;
}

interface WalkContext {
  weights: LayerWeights;
  options: ForwardOptions;
  imageSize: [number, number];
  /** The network's input: a conv reading it needs no input gradient (null: the input needs one). */
  input: T4 | null;
  /** Outputs of the sequentials with these names, recorded when they run. */
  taps?: Map<string, T4 | undefined>;
}

function param(ctx: WalkContext, name: string): tf.Tensor {
  const t = ctx.weights.params.get(name);
  if (t === undefined) throw new Error(`forward: no weight named ${name}`);
  return t;
}

function buffer(ctx: WalkContext, name: string): tf.Variable {
  const t = ctx.weights.buffers.get(name);
  if (t === undefined) throw new Error(`forward: no buffer named ${name}`);
  return t;
}

function runConv(layer: ConvSpec, x: T4, ctx: WalkContext): T4 {
  const y = conv2d(x, param(ctx, `${layer.name}.weight`) as T4, {
    stride: layer.stride,
    dilation: layer.dilation,
    inputGradient: x !== ctx.input,
  });
  return layer.bias ? (tf.add(y, param(ctx, `${layer.name}.bias`)) as T4) : y;
}

function runBatchNorm(layer: BatchNormSpec, x: T4, ctx: WalkContext): T4 {
  const gamma = param(ctx, `${layer.name}.weight`) as T1;
  const beta = param(ctx, `${layer.name}.bias`) as T1;
  const runningMean = buffer(ctx, `${layer.name}.running_mean`);
  const runningVar = buffer(ctx, `${layer.name}.running_var`);
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
}

/** stat = keep * stat + take * batchStat: in the state's own buffer on webgpu, by `assign` elsewhere. */
function updateRunningStat(stat: tf.Variable, batchStat: tf.Tensor, keep: number, take: number): void {
  const backend = inPlaceBackend(stat);
  if (backend !== undefined) runningStatInPlace(backend, stat, batchStat, keep, take);
  else stat.assign(tf.tidy(() => tf.add(tf.mul(stat, keep), tf.mul(batchStat, take))));
}

function runDropout(rate: number, x: T4, ctx: WalkContext): T4 {
  const rng = ctx.options.dropoutRng;
  if (!ctx.options.training || rng === undefined || rate === 0) return x;
  const noise = ctx.options.dropoutNoise?.(x.shape, rng) ?? tf.tensor(dropoutNoise(x.size, rng.nextU32()), x.shape, 'float32');
  const keep = tf.greaterEqual(noise, rate);
  return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - rate))) as T4;
}

function run(layer: LayerSpec, x: T4, ctx: WalkContext, scopeInput: T4): T4 {
  switch (layer.kind) {
    case 'conv':
      return runConv(layer, x, ctx);
    case 'batchNorm':
      return runBatchNorm(layer, x, ctx);
    case 'relu':
      return tf.relu(x);
    case 'maxPool':
      return maxPool3x3s2(x);
    case 'globalAvgPool':
      return globalAvgPool(x);
    case 'dropout':
      return runDropout(layer.rate, x, ctx);
    case 'resize': {
      const size: [number, number] = layer.to === 'image' ? ctx.imageSize : [scopeInput.shape[1], scopeInput.shape[2]];
      return resizeBilinear(x, size);
    }
    case 'sequential': {
      const out = layer.layers.reduce((h, child) => run(child, h, ctx, x), x);
      if (ctx.taps?.has(layer.name) === true) ctx.taps.set(layer.name, out);
      return out;
    }
    case 'residual': {
      const body = layer.body.reduce((h, child) => run(child, h, ctx, x), x);
      const shortcut = layer.shortcut.reduce((h, child) => run(child, h, ctx, x), x);
      return tf.add(body, shortcut) as T4;
    }
    case 'concat':
      return tf.concat(
        layer.branches.map((branch) => run(branch, x, ctx, x)),
        3,
      ) as T4;
  }
}

export interface RunOptions {
  /** What `resize to: 'image'` layers resize to (default: x's own size). */
  imageSize?: [number, number];
  /** Every key that names a sequential gets its output (e.g. a stage an auxiliary head reads). */
  taps?: Map<string, T4 | undefined>;
  /** `x` is an intermediate (a tapped stage), so the first conv passes a gradient back to it. */
  inputGradient?: boolean;
}

/**
 * Run `spec` on NHWC `x`. Call inside tf.tidy / tf.variableGrads: intermediates are not
 * disposed here.
 */
export function runLayers(spec: LayerSpec, x: T4, weights: LayerWeights, options: ForwardOptions, more: RunOptions = {}): T4 {
  const ctx: WalkContext = {
    weights,
    options,
    imageSize: more.imageSize ?? [x.shape[1], x.shape[2]],
    input: more.inputGradient === true ? null : x,
    ...(more.taps !== undefined ? { taps: more.taps } : {}),
  };
  return run(spec, x, ctx, x);
}
