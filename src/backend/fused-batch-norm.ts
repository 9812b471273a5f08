/**
 * Batch norm's closed-form input gradient as one fused kernel on webgpu,
 *   dx = gamma * rstd * (dy - dBeta / count - xhat * dGamma / count)
 * instead of seven elementwise kernels over the activation. Other backends use plain ops.
 */
import { tf } from './tf.js';
import { MAX_ELEMENTWISE_SIZE, elementwiseProgram, type WebgpuBackendLike } from './webgpu-program.js';

const KERNEL = 'SegBatchNormInputGrad';

/** Register the fused kernel for the 'webgpu' backend (done when that backend is set up). */
export function registerFusedBatchNormKernel(): void {
  if (tf.getKernel(KERNEL, 'webgpu') !== undefined) return;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, xhat, dBeta, dGamma, gamma, rstd } = inputs as Record<string, tf.TensorInfo>;
      const { count } = attrs as unknown as { count: number };
      const program = elementwiseProgram(
        'seg_batch_norm_input_grad',
        ['DY', 'XH', 'DB', 'DG', 'G', 'R'],
        'count : f32,',
        'setOutputAtIndex(index, getGByOutputIndex(index) * getRByOutputIndex(index) * ' +
          '(getDYByOutputIndex(index) - getDBByOutputIndex(index) / uniforms.count - getXHByOutputIndex(index) * (getDGByOutputIndex(index) / uniforms.count)));',
        (dy as tf.TensorInfo).shape,
      );
      const ins = [dy, xhat, dBeta, dGamma, gamma, rstd] as tf.TensorInfo[];
      return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, ins, 'float32', [{ type: 'float32', data: [count] }]);
    },
  });
}

/** dx from the fused kernel when the active backend has it, else undefined. */
export function fusedBatchNormInputGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  dBeta: tf.Tensor,
  dGamma: tf.Tensor,
  gamma: tf.Tensor,
  rstd: tf.Tensor,
): tf.Tensor | undefined {
  if (dy.size > MAX_ELEMENTWISE_SIZE || tf.getKernel(KERNEL, tf.getBackend()) === undefined) return undefined;
  const count = xhat.size / (xhat.shape[xhat.rank - 1] as number);
  const inputs = { dy, xhat, dBeta, dGamma, gamma, rstd } as unknown as tf.NamedTensorMap;
  return tf.engine().runKernel(KERNEL, inputs, { count } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
