/**
 * onnxruntime-node, an optional dependency, loaded by a guarded dynamic import. Only the
 * few members seg uses are typed here, so seg builds where the package is absent.
 */
import { availableParallelism } from 'node:os';
import { SegError } from '../../core/errors.js';

export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** Where onnxruntime runs the graph: its CPU provider, or its WebGPU provider (bundled in onnxruntime-node's Linux x64 and Windows builds). */
export type OrtDevice = 'cpu' | 'webgpu';

export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionProviders?: string[];
  /** 0 verbose .. 4 fatal; seg keeps onnxruntime's warnings (node placement notes) off the terminal. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Session config entries, e.g. { session: { intra_op: { allow_spinning: '0' } } }. */
  extra?: Record<string, unknown>;
}

export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

export const ONNXRUNTIME_PACKAGE = 'onnxruntime-node';

let cached: Promise<{ module: OrtModule } | { reason: string }> | undefined;

/** The onnxruntime-node module, or why it cannot be loaded. */
export function loadOnnxRuntime(): Promise<{ module: OrtModule } | { reason: string }> {
  cached ??= (async () => {
    try {
      // A variable specifier keeps TypeScript from requiring the optional package's types.
      const specifier: string = ONNXRUNTIME_PACKAGE;
      const mod = (await import(specifier)) as Partial<OrtModule> & { default?: Partial<OrtModule> };
      const ort = mod.InferenceSession !== undefined ? mod : mod.default;
      if (ort?.InferenceSession === undefined || ort.Tensor === undefined)
        return { reason: `${ONNXRUNTIME_PACKAGE} loaded but has no InferenceSession` };
      return { module: ort as OrtModule };
    } catch (err) {
      const code = (err as { code?: string } | null)?.code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return { reason: `${ONNXRUNTIME_PACKAGE} is not installed` };
      return {
        reason: `${ONNXRUNTIME_PACKAGE} failed to load (${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)})`,
      };
    }
  })();
  return cached;
}

/**
 * Session options seg uses: every core for one op, all graph optimisations, CPU. The
 * intra-op threads do not spin while waiting: on a machine shared with other work,
 * spinning threads steal the cores the computing ones need (measured: 17 vs 22 img/s with
 * two threads on a loaded 2-core machine).
 */
export function defaultSessionOptions(threads = availableParallelism(), device: OrtDevice = 'cpu'): OrtSessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // On webgpu, onnxruntime itself keeps shape computations on the CPU provider.
    executionProviders: device === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'],
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** The device of session options made by defaultSessionOptions. */
export function sessionDevice(options: OrtSessionOptions): OrtDevice {
  return options.executionProviders?.[0] === 'webgpu' ? 'webgpu' : 'cpu';
}

/** An onnxruntime session for serialised model bytes. */
export async function createOrtSession(
  model: Uint8Array,
  options: OrtSessionOptions = defaultSessionOptions(),
): Promise<{ ort: OrtModule; session: OrtSession }> {
  const loaded = await loadOnnxRuntime();
  if ('reason' in loaded) {
    throw new SegError(
      `--engine onnxruntime: ${loaded.reason}; install it with 'npm install onnxruntime-node' ` +
        `(add onnxruntime-node-install=skip to .npmrc to skip its CUDA download) or use --engine tfjs`,
      '--engine',
    );
  }
  try {
    return { ort: loaded.module, session: await loaded.module.InferenceSession.create(model, options) };
  } catch (err) {
    if (sessionDevice(options) !== 'webgpu') throw err;
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new SegError(
      `--engine onnxruntime --backend webgpu: onnxruntime's WebGPU provider could not start (${why}); it needs a GPU with ` +
        'a Vulkan driver on Linux (D3D12 on Windows). Use --backend wasm for the CPU provider, or --engine tfjs',
      '--backend',
    );
  }
}
