/**
 * State updates written into the state's own GPU buffer on webgpu: the SGD velocity and
 * parameter, and batch norm's running statistics. A tfjs op always makes a new tensor, and
 * `variable.assign` then moves the variable to a new buffer every step; a captured step
 * (step-replay.ts) needs every piece of state to stay in one buffer, so these kernels bind
 * the state as their output and read it from there:
 *   velocity:      v = momentum * v + (g + weightDecay * p)
 *   parameter:     p = p - lr * v           (lr read from a one-element tensor)
 *   running stat:  s = keep * s + take * batchStat
 * Other backends have no such kernels: the callers fall back to ops and `assign`.
 */
import type { tf } from './tf.js';
import { dropCpuCopy, webgpuInternals, type WebgpuBackendInternals } from './webgpu-internals.js';
import { elementwiseProgram } from './webgpu-program.js';

function flat(t: tf.TensorInfo): tf.TensorInfo {
  const size = t.shape.reduce((a, b) => a * b, 1);
  return { dataId: t.dataId, shape: [size], dtype: t.dtype };
}

/** The webgpu backend when it can update float32 state in place here, else undefined. */
export function inPlaceBackend(state: tf.Tensor): WebgpuBackendInternals | undefined {
  if (state.dtype !== 'float32') return undefined;
  return webgpuInternals();
}

/** v = momentum * v + (g + weightDecay * p); then p = p - lr * v. Both in place. */
export function sgdStepInPlace(
  backend: WebgpuBackendInternals,
  p: tf.Variable,
  v: tf.Variable,
  grad: tf.Tensor,
  lr: tf.Scalar,
  momentum: number,
  weightDecay: number,
): void {
  const size = p.size;
  const velocity = elementwiseProgram(
    'seg_sgd_velocity_in_place',
    ['G', 'P'],
    'momentum : f32, decay : f32,',
    'result[index] = result[index] * uniforms.momentum + (G[index] + P[index] * uniforms.decay);',
    [size],
  );
  backend.runWebGPUProgram(
    velocity,
    [flat(grad), flat(p)],
    'float32',
    [
      { type: 'float32', data: [momentum] },
      { type: 'float32', data: [weightDecay] },
    ],
    flat(v),
  );
  const param = elementwiseProgram('seg_sgd_param_in_place', ['V', 'LR'], '', 'result[index] = result[index] - V[index] * LR[0];', [size]);
  backend.runWebGPUProgram(param, [flat(v), lr], 'float32', [], flat(p));
  dropCpuCopy(backend, v);
  dropCpuCopy(backend, p);
}

/** s = keep * s + take * batchStat, in place (a batch-norm running statistic). */
export function runningStatInPlace(
  backend: WebgpuBackendInternals,
  stat: tf.Variable,
  batchStat: tf.Tensor,
  keep: number,
  take: number,
): void {
  const program = elementwiseProgram(
    'seg_running_stat_in_place',
    ['S'],
    'keep : f32, take : f32,',
    'result[index] = result[index] * uniforms.keep + S[index] * uniforms.take;',
    [stat.size],
  );
  backend.runWebGPUProgram(
    program,
    [flat(batchStat)],
    'float32',
    [
      { type: 'float32', data: [keep] },
      { type: 'float32', data: [take] },
    ],
    flat(stat),
  );
  dropCpuCopy(backend, stat);
}
