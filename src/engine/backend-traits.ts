/**
 * What seg needs to know about a tfjs backend, in one table: code asks for a trait
 * (`activeBackendTraits().hostTensors`), never for a backend's name. The traits of the
 * active backend are computed once per backend (selectBackend sets them; a backend set
 * with tf.setBackend directly, as tests do, is looked up on first use) and kept.
 */
import { tf } from './tf.js';

/** The wasm backend's linear memory: 4 GiB in all (32-bit addresses). */
export const WASM_LINEAR_MEMORY_BYTES = 4 * 2 ** 30;
/** Share of it given to tensors in the memory check, leaving room for fragmentation and the module. */
export const WASM_TENSOR_SHARE = 0.7;
/** Share of the machine's RAM the cpu backend's tensors (JavaScript typed arrays) may take. */
export const HOST_RAM_SHARE = 0.8;

/**
 * Where a backend's tensors live, for the memory limit: a fixed linear memory (wasm), the
 * machine's RAM (cpu), or device memory that tfjs cannot see (no known limit).
 */
export type BackendMemory =
  | { kind: 'linear'; totalBytes: number; tensorShare: number }
  | { kind: 'host-ram'; share: number }
  | { kind: 'unknown' };

export interface BackendTraits {
  /** The tfjs backend these traits describe. */
  readonly name: string;
  /**
   * Tensors live in this process's memory (wasm, cpu): a synchronous read is cheap and
   * allowed, and JS loops beat tfjs's reverse/pad/transpose kernels (rearrange.ts, resize.ts).
   * Elsewhere data stays on the device: tensor-op versions, device-side counting, `await data()`.
   */
  readonly hostTensors: boolean;
  /** tfjs's own Conv2D backprop kernels are used (dilation 1): real kernels on tensorflow and webgpu. */
  readonly nativeConvGradient: boolean;
  /** tfjs's own MaxPool gradient is right for every padded shape (wasm's drops some; tfjs 4.22): tensorflow. */
  readonly nativePoolGradient: boolean;
  /** The device its kernels run on: the CPU, a GPU through WebGPU, a GPU through CUDA (tfjs-node-gpu), or unknown. */
  readonly device: BackendDevice;
  /** Runs on a GPU (device webgpu or cuda). */
  readonly gpu: boolean;
  /**
   * It is tfjs's webgpu backend, whose internals seg's own WGSL work relies on: in-place SGD
   * and batch-norm updates, captured and replayed training steps (webgpu-internals.ts).
   */
  readonly webgpuKernels: boolean;
  /** A failed allocation can kill the backend for every later op (a wasm module abort). */
  readonly abortsOnMemoryFailure: boolean;
  /** Where its tensors live, for the memory limit (memory-estimate.ts turns it into bytes). */
  readonly memory: BackendMemory;
}

export type BackendDevice = 'cpu' | 'webgpu' | 'cuda' | 'unknown';

type TraitsOf = Omit<BackendTraits, 'name' | 'gpu' | 'device'> & {
  device: BackendDevice | ((provider: string | undefined) => BackendDevice);
};

/** The traits of the backends seg offers (engine/backend.ts), by name. */
const TRAITS: Readonly<Record<string, TraitsOf>> = {
  tensorflow: {
    hostTensors: false,
    nativeConvGradient: true,
    nativePoolGradient: true,
    device: (provider) => ((provider ?? '').includes('gpu') ? 'cuda' : 'cpu'),
    webgpuKernels: false,
    abortsOnMemoryFailure: false,
    memory: { kind: 'unknown' },
  },
  webgpu: {
    hostTensors: false,
    nativeConvGradient: true,
    nativePoolGradient: false,
    device: 'webgpu',
    webgpuKernels: true,
    abortsOnMemoryFailure: false,
    memory: { kind: 'unknown' },
  },
  wasm: {
    hostTensors: true,
    nativeConvGradient: false,
    nativePoolGradient: false,
    device: 'cpu',
    webgpuKernels: false,
    abortsOnMemoryFailure: true,
    memory: { kind: 'linear', totalBytes: WASM_LINEAR_MEMORY_BYTES, tensorShare: WASM_TENSOR_SHARE },
  },
  cpu: {
    hostTensors: true,
    nativeConvGradient: false,
    nativePoolGradient: false,
    device: 'cpu',
    webgpuKernels: false,
    abortsOnMemoryFailure: false,
    memory: { kind: 'host-ram', share: HOST_RAM_SHARE },
  },
};

/** Any other backend (registered by a test or a plugin): data on the device, seg's own gradients, no known limit. */
const OTHER: TraitsOf = {
  hostTensors: false,
  nativeConvGradient: false,
  nativePoolGradient: false,
  device: 'unknown',
  webgpuKernels: false,
  abortsOnMemoryFailure: false,
  memory: { kind: 'unknown' },
};

/** The traits of backend `name`; `provider`: for tensorflow, the package that provided it. */
export function backendTraits(name: string, provider?: string): BackendTraits {
  const t = TRAITS[name] ?? OTHER;
  const device = typeof t.device === 'function' ? t.device(provider) : t.device;
  return { ...t, name, device, gpu: device === 'webgpu' || device === 'cuda' };
}

let active: BackendTraits | undefined;
const providers = new Map<string, string | undefined>();

/** Called by selectBackend when `name` becomes the active backend: computes its traits once. */
export function setActiveBackendTraits(name: string, provider?: string): BackendTraits {
  providers.set(name, provider);
  active = backendTraits(name, provider);
  return active;
}

/** The traits of the active tfjs backend (computed once per backend, then kept). */
export function activeBackendTraits(): BackendTraits {
  const name = tf.getBackend();
  if (active === undefined || active.name !== name) active = backendTraits(name, providers.get(name));
  return active;
}
