/**
 * The onnxruntime engine: the model exported to ONNX, in memory from a checkpoint, or a
 * file from `seg export`, run by onnxruntime-node (an optional dependency) on its CPU
 * provider, or on its WebGPU provider when the tfjs backend is webgpu.
 */
import { readFileSync } from 'node:fs';
import { tf } from '../../engine/tf.js';
import { SegError } from '../../core/errors.js';
import type { HeadSpec } from '../../heads/head-spec.js';
import type { SegmentationModel } from '../../segmentation/model.js';
import { inferenceMemoryEstimator } from '../../segmentation/memory-estimate.js';
import type { Normalization } from '../../data-loading/normalize.js';
import { exportOnnx, ONNX_INPUT_NAME } from '../../export/onnx-export.js';
import { decodeOnnxModel } from '../../export/onnx-graph.js';
import { parseMetadataProps, type OnnxModelInfo } from '../../export/onnx-metadata.js';
import {
  createOrtSession,
  defaultSessionOptions,
  loadOnnxRuntime,
  sessionDevice,
  type OrtDevice,
  type OrtSessionOptions,
} from './onnxruntime-loader.js';
import { type EngineCapabilities, type EngineContext, type EngineFactory, FixedSizeError, type InferenceEngine } from './engine.js';

export const ONNXRUNTIME_CAPABILITIES: EngineCapabilities = {
  checkpoints: true,
  onnxFiles: true,
  onDeviceCounting: false,
  devices: ['cpu', 'webgpu'],
  // auto mode checks the host's RAM, also on the WebGPU provider (its device memory is not visible).
  memory: 'host',
};

/** The execution provider for the tfjs backend's device: WebGPU's with --backend webgpu, else the CPU's. */
export function onnxDevice(context: EngineContext): OrtDevice {
  return context.backend.device === 'webgpu' ? 'webgpu' : 'cpu';
}

/**
 * An onnxruntime engine over serialised ONNX bytes whose graph ends in `logits` (as
 * `seg export --head-output logits` writes). `source` names the file in errors.
 */
export async function onnxRuntimeEngine(
  bytes: Uint8Array,
  source: string,
  options: OrtSessionOptions = defaultSessionOptions(),
): Promise<InferenceEngine & { info: OnnxModelInfo & { headSpec: HeadSpec } }> {
  const info = onnxModelInfo(bytes, source);
  if (info.headOutput !== 'logits') {
    throw new SegError(
      `${source}: the graph ends in '${info.headOutput}'; eval and predict need the logits: export it with --head-output logits`,
      source,
    );
  }
  const { ort, session } = await createOrtSession(bytes, options);
  const k = info.model.numClasses;
  /** The output for one NCHW batch, checked against the metadata: a file that lies about itself is the user's to fix. */
  const run = async (data: Float32Array, [n, c, h, w]: [number, number, number, number]): Promise<Float32Array> => {
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', data, [n, c, h, w]) });
    const logits = out['logits'];
    if (logits === undefined)
      throw new SegError(
        `${source}: the model has no output named 'logits' (it has ${Object.keys(out).join(', ')}); export it with seg export`,
        source,
      );
    const expected = [n, k, h, w];
    if (!(logits.data instanceof Float32Array) || logits.dims.length !== 4 || logits.dims.some((d, i) => d !== expected[i])) {
      throw new SegError(
        `${source}: its output 'logits' is ${logits.data instanceof Float32Array ? '' : `${logits.type} `}[${logits.dims.join(', ')}] ` +
          `for a ${n}x${c}x${h}x${w} image, but its seg metadata says ${k} classes at the image's size ([${expected.join(', ')}]); ` +
          'the file does not match its metadata: export it again with seg export',
        source,
      );
    }
    return logits.data;
  };
  // Checked once now, on a small image (the fixed size if there is one), not at the first real image.
  try {
    const os = info.model.outputStride;
    const [h, w] = info.fixedSize ?? [os + 5, os + 7];
    await run(new Float32Array(3 * h * w), [1, 3, h, w]);
  } catch (err) {
    await session.release();
    if (err instanceof SegError) throw err;
    throw new SegError(
      `${source}: onnxruntime cannot run the model (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
      source,
    );
  }
  const estimate = inferenceMemoryEstimator(info.model);
  return {
    kind: 'onnxruntime',
    capabilities: ONNXRUNTIME_CAPABILITIES,
    device: sessionDevice(options),
    numClasses: k,
    outputStride: info.model.outputStride,
    padsToStride: info.padToStride,
    estimateMemory: (height, width, batch) => estimate(height, width, batch).bytes,
    info,
    async logits(images: tf.Tensor4D): Promise<tf.Tensor4D> {
      const [n, h, w, c] = images.shape;
      if (info.fixedSize !== null && (info.fixedSize[0] !== h || info.fixedSize[1] !== w)) {
        throw new FixedSizeError(source, info.fixedSize, [h, w]);
      }
      const nchw = tf.transpose(images, [0, 3, 1, 2]);
      let data: Float32Array;
      try {
        data = (await nchw.data()) as Float32Array;
      } finally {
        nchw.dispose();
      }
      const values = await run(data, [n, c, h, w]);
      return tf.tidy(() => tf.transpose(tf.tensor4d(values, [n, k, h, w]), [0, 2, 3, 1]));
    },
    dispose: () => session.release(),
  };
}

/** The metadata of serialised ONNX bytes written by `seg export`. */
export function onnxModelInfo(bytes: Uint8Array, source: string): OnnxModelInfo & { headSpec: HeadSpec } {
  let props: Record<string, string>;
  if (bytes.length === 0)
    throw new SegError(`${source}: not an ONNX model (the file is empty); pass a file written by 'seg export'`, source);
  try {
    const model = decodeOnnxModel(bytes);
    // Protobuf reads almost any bytes as some message: a model has a graph with inputs and outputs.
    if ((model.graph?.input?.length ?? 0) === 0 || (model.graph?.output?.length ?? 0) === 0) {
      throw new SegError(
        `${source}: not an ONNX model (no graph with inputs and outputs in it); pass a file written by 'seg export'`,
        source,
      );
    }
    props = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  } catch (err) {
    if (err instanceof SegError) throw err;
    throw new SegError(`${source}: not an ONNX model (${err instanceof Error ? err.message : String(err)})`, source);
  }
  return parseMetadataProps(props, source);
}

/** Read an .onnx file written by `seg export`. */
export function readOnnxFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch {
    throw new SegError(`--onnx ${file}: cannot read it; pass a file written by 'seg export'`, '--onnx');
  }
}

export interface ExportedEngineOptions {
  headSpec: HeadSpec;
  classNames: readonly string[];
  normalization: Normalization;
  session?: OrtSessionOptions;
}

/** onnxruntime over `model` exported in memory (dynamic H and W, logits, no padding in the graph). */
export async function exportedOnnxRuntimeEngine(model: SegmentationModel, options: ExportedEngineOptions): Promise<InferenceEngine> {
  const bytes = await exportOnnx(model, {
    headSpec: options.headSpec,
    classNames: options.classNames,
    normalization: options.normalization,
    headOutput: 'logits',
  });
  return onnxRuntimeEngine(bytes, 'the checkpoint exported to ONNX', options.session);
}

export const onnxRuntimeEngineFactory: EngineFactory = {
  capabilities: ONNXRUNTIME_CAPABILITIES,
  /** The default on a CPU backend when onnxruntime-node loads (tfjs is faster on a GPU backend). */
  async suits(context) {
    return !context.backend.gpu && 'module' in (await loadOnnxRuntime());
  },
  async open(source, context) {
    const session = defaultSessionOptions(undefined, onnxDevice(context));
    if (source.kind === 'onnx') {
      const engine = await onnxRuntimeEngine(readOnnxFile(source.file), source.file, session);
      return {
        engine,
        headSpec: engine.info.headSpec,
        classNames: engine.info.classNames,
        normalization: engine.info.normalization,
      };
    }
    const { trained } = source;
    try {
      const engine = await exportedOnnxRuntimeEngine(trained.model, {
        headSpec: trained.head.spec,
        classNames: trained.config.classNames,
        normalization: trained.normalization,
        session,
      });
      return { engine, headSpec: trained.head.spec, classNames: trained.config.classNames, normalization: trained.normalization };
    } finally {
      trained.model.dispose();
    }
  },
};
