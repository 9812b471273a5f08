/**
 * The SGD-with-momentum update of one parameter as two fused kernels on webgpu,
 *   v' = momentum * v + (g + weightDecay * p)        (SegSgdVelocity)
 *   p' = p - lr * v'                                  (SegSgdParam)
 * instead of six elementwise kernels: on a GPU each kernel costs a dispatch, and a ResNet has
 * hundreds of parameters. Other backends have no such kernels and use plain ops.
 */
import { tf } from './tf.js';
import { MAX_ELEMENTWISE_SIZE, elementwiseProgram, type WebgpuBackendLike } from './webgpu-program.js';

const VELOCITY = 'SegSgdVelocity';
const PARAM = 'SegSgdParam';
/** One-dimensional dispatches only: at most 65535 workgroups. */
const MAX_SIZE = MAX_ELEMENTWISE_SIZE;

/** Register the fused kernels for the 'webgpu' backend (done when that backend is set up). */
export function registerFusedSgdKernels(): void {
  if (tf.getKernel(VELOCITY, 'webgpu') !== undefined) return;
  tf.registerKernel({
    kernelName: VELOCITY,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { v, g, p } = inputs as { v: tf.TensorInfo; g: tf.TensorInfo; p: tf.TensorInfo };
      const { momentum, weightDecay } = attrs as unknown as { momentum: number; weightDecay: number };
      const program = elementwiseProgram(
        'seg_sgd_velocity',
        ['V', 'G', 'P'],
        'momentum : f32, decay : f32,',
        'setOutputAtIndex(index, getVByOutputIndex(index) * uniforms.momentum + (getGByOutputIndex(index) + getPByOutputIndex(index) * uniforms.decay));',
        v.shape,
      );
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, [v, g, p], 'float32', [
        { type: 'float32', data: [momentum] },
        { type: 'float32', data: [weightDecay] },
      ]);
    },
  });
  tf.registerKernel({
    kernelName: PARAM,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { p, v } = inputs as { p: tf.TensorInfo; v: tf.TensorInfo };
      const { lr } = attrs as unknown as { lr: number };
      const program = elementwiseProgram(
        'seg_sgd_param',
        ['P', 'V'],
        'lr : f32,',
        'setOutputAtIndex(index, getPByOutputIndex(index) - getVByOutputIndex(index) * uniforms.lr);',
        p.shape,
      );
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, [p, v], 'float32', [{ type: 'float32', data: [lr] }]);
    },
  });
}

/** Whether the active backend runs the fused update (webgpu, float32, not too large). */
export function fusedSgdAvailable(p: tf.Tensor): boolean {
  return p.dtype === 'float32' && p.size <= MAX_SIZE && tf.getKernel(VELOCITY, tf.getBackend()) !== undefined;
}

/** The new velocity and parameter, from two fused kernels (see the module comment). */
export function fusedSgdStep(
  p: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  momentum: number,
  weightDecay: number,
  lr: number,
): { v: tf.Tensor; p: tf.Tensor } {
  const engine = tf.engine();
  const attrs = { momentum, weightDecay } as unknown as tf.NamedAttrMap;
  const nextV = engine.runKernel(VELOCITY, { v, g, p } as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
  const nextP = engine.runKernel(PARAM, { p, v: nextV } as unknown as tf.NamedTensorMap, { lr } as unknown as tf.NamedAttrMap) as tf.Tensor;
  return { v: nextV, p: nextP };
}
