/**
 * The parts of @tensorflow/tfjs-backend-webgpu 4.22 that seg's step replay and in-place
 * updates rely on: its device, command encoder, buffer pool and tensor storage. They are
 * not public API, so they are named in one place and checked once when first asked for.
 */
import { tf } from './tf.js';
import type { GpuBuffer, GpuCommandEncoder, GpuComputePipeline, GpuDevice } from './gpu-types.js';
import { activeBackendTraits } from './backend-traits.js';

export interface WebgpuTensorData {
  /** The tensor's GPU buffer once uploaded (null while its values are only on the CPU). */
  resource: GpuBuffer | object | null;
  /** Values cached on the CPU (after an upload is pending, or after a read). */
  values: unknown;
  refCount: number;
  /** A buffer the backend did not allocate (never returned to its pool). */
  external?: boolean;
  shape: number[];
  dtype: string;
}

export interface WebgpuBufferPool {
  freeBuffers: Map<string, GpuBuffer[]>;
  usedBuffers: Map<string, GpuBuffer[]>;
  numFreeBuffers: number;
  releaseBuffer(buffer: GpuBuffer, reuse?: boolean): void;
}

export interface WebgpuUniform {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

export interface WebgpuBackendInternals {
  readonly device: GpuDevice;
  commandEncoder: GpuCommandEncoder | null;
  readonly bufferManager: WebgpuBufferPool;
  readonly tensorMap: { get(dataId: object): WebgpuTensorData | undefined; has(dataId: object): boolean };
  readonly pipelineCache: Record<string, GpuComputePipeline | Promise<GpuComputePipeline>>;
  endComputePassEncoder(): void;
  submitQueue(): void;
  runWebGPUProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: string,
    uniforms?: WebgpuUniform[],
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
}

function looksLikeWebgpuBackend(value: unknown): value is WebgpuBackendInternals {
  const b = value as Partial<WebgpuBackendInternals> | null;
  return (
    b !== null &&
    typeof b === 'object' &&
    typeof b.device === 'object' &&
    typeof b.submitQueue === 'function' &&
    typeof b.runWebGPUProgram === 'function' &&
    typeof b.bufferManager?.releaseBuffer === 'function' &&
    b.bufferManager.freeBuffers instanceof Map &&
    typeof b.tensorMap?.get === 'function'
  );
}

/** The active backend's internals when it is tfjs's webgpu backend, else undefined. */
export function webgpuInternals(): WebgpuBackendInternals | undefined {
  if (!activeBackendTraits().webgpuKernels) return undefined;
  const backend = tf.backend() as unknown;
  if (!looksLikeWebgpuBackend(backend)) {
    throw new Error('the webgpu backend does not look like @tensorflow/tfjs-backend-webgpu 4.22 (seg relies on its internals)');
  }
  return backend;
}

/** The tensor's GPU buffer (uploading CPU values first if needed is the caller's job). */
export function tensorBuffer(backend: WebgpuBackendInternals, t: tf.TensorInfo): GpuBuffer | undefined {
  const data = backend.tensorMap.get(t.dataId);
  const resource = data?.resource;
  return resource !== null && resource !== undefined && typeof (resource as GpuBuffer).getMappedRange === 'function'
    ? (resource as GpuBuffer)
    : undefined;
}

/**
 * Forget values cached on the CPU for a tensor whose buffer was written in place: tfjs keeps
 * the values of a read, and would return them again after the GPU copy changed.
 */
export function dropCpuCopy(backend: WebgpuBackendInternals, t: tf.TensorInfo): void {
  const data = backend.tensorMap.get(t.dataId);
  if (data !== undefined && data.resource !== null && data.values !== null) data.values = null;
}

/** Submit whatever tfjs has encoded but not yet submitted, so later submits run after it. */
export function flushTfjs(backend: WebgpuBackendInternals): void {
  if (backend.commandEncoder === null) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}
