/** A minimal elementwise WGSL program for tfjs's webgpu backend (its WebGPUProgram shape). */
import type { tf } from './tf.js';

const WORKGROUP = 128;
/** One-dimensional dispatches only: at most 65535 workgroups. */
export const MAX_ELEMENTWISE_SIZE = 65535 * WORKGROUP;

export interface Uniform {
  type: 'float32' | 'int32';
  data: number[];
}

export interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Uniform[]): tf.TensorInfo;
}

/**
 * One output element per invocation, `index` its flat index; each input X is read with
 * getXByOutputIndex(index) (broadcast like a binary op's) or X[index], the result written with
 * setOutputAtIndex(index, value) (or read and written as result[index], for in-place updates).
 */
export function elementwiseProgram(key: string, inputs: string[], uniforms: string, body: string, shape: number[]): object {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    variableNames: inputs,
    outputShape: shape,
    shaderKey: key,
    size: true,
    uniforms,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}
