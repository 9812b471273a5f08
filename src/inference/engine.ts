/**
 * Inference engines: what maps a batch of normalised NHWC images to logits at the images'
 * own size (the network on the images as they are; padding to the output stride, when asked,
 * is done by inference.ts, or by the graph of a file exported with it). tfjs runs seg's own forward;
 * onnxruntime runs the model exported to ONNX (in memory from a checkpoint, or a file from
 * `seg export`). Multi-scale, flip and the head's score averaging stay in inference.ts, so
 * both engines share them.
 */
import { readFileSync } from 'node:fs';
import { tf } from '../engine/tf.js';
import { SegError, expectedOneOf } from '../core/errors.js';
import type { HeadSpec } from '../heads/head-spec.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import type { Normalization } from '../data-loading/normalize.js';
import { exportOnnx, ONNX_INPUT_NAME } from '../export/onnx-export.js';
import { decodeOnnxModel } from '../export/onnx-graph.js';
import { parseMetadataProps, type OnnxModelInfo } from '../export/onnx-metadata.js';
import { wholeImageLogits } from './inference.js';
import {
  createOrtSession,
  defaultSessionOptions,
  loadOnnxRuntime,
  sessionDevice,
  type OrtDevice,
  type OrtSessionOptions,
} from './onnxruntime-loader.js';

export const ENGINE_KINDS = ['tfjs', 'onnxruntime'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export interface InferenceEngine {
  readonly kind: EngineKind;
  /** For onnxruntime: the execution provider, 'cpu' or 'webgpu'. */
  readonly device?: OrtDevice;
  readonly numClasses: number;
  /** The model's architecture (for memory estimates); the weights live in the engine. */
  readonly config: ModelConfig;
  /** The engine pads images to the output stride itself (an ONNX file exported with --pad-to-stride). */
  readonly padsToStride: boolean;
  /** Logits [N, H, W, K] for normalised images [N, H, W, 3]; the caller owns the result. */
  logits(images: tf.Tensor4D): Promise<tf.Tensor4D>;
  dispose(): Promise<void>;
}

/**
 * An input of another size than a `--fixed-size` model takes. Not a problem of one image but
 * of the model and the images together: callers stop at the first one, naming it.
 */
export class FixedSizeError extends SegError {
  constructor(
    readonly model: string,
    /** [H, W] the model takes. */
    readonly fixedSize: readonly [number, number],
    /** [h, w] it was given. */
    readonly got: readonly [number, number],
  ) {
    super(
      `${model} was exported with --fixed-size ${fixedSize[0]} ${fixedSize[1]}: it takes only ${fixedSize[1]}x${fixedSize[0]} ` +
        `inputs (width x height), and was given ${got[1]}x${got[0]}; export it without --fixed-size`,
      model,
    );
    this.name = 'FixedSizeError';
  }

  /** The error for `image` (width x height) that made the input. */
  forImage(image: string, width: number, height: number): SegError {
    const [h, w] = this.fixedSize;
    return new SegError(
      `${image} is ${width}x${height}, but ${this.model} was exported with --fixed-size ${h} ${w}: it takes only ${w}x${h} inputs ` +
        `(width x height), and this image gave it ${this.got[1]}x${this.got[0]}; export it without --fixed-size, or resize the images`,
      image,
    );
  }
}

export function isInferenceEngine(value: object): value is InferenceEngine {
  return 'kind' in value && 'logits' in value && typeof (value as { logits: unknown }).logits === 'function';
}

export function parseEngineKind(value: string, flag = '--engine'): EngineKind {
  const kind = ENGINE_KINDS.find((k) => k === value);
  if (kind === undefined) throw expectedOneOf(flag, value, ENGINE_KINDS);
  return kind;
}

/** Backends that run on a GPU (tfjs-node-gpu's tensorflow, webgpu, webgl). */
export function isGpuBackend(name: string, provider?: string): boolean {
  return name === 'webgpu' || name === 'webgl' || (name === 'tensorflow' && (provider ?? '').includes('gpu'));
}

/** The engine when none is asked for: tfjs on a GPU backend, else onnxruntime if it loads, else tfjs. */
export async function defaultEngineKind(gpuBackend: boolean): Promise<EngineKind> {
  if (gpuBackend) return 'tfjs';
  return 'module' in (await loadOnnxRuntime()) ? 'onnxruntime' : 'tfjs';
}

/** seg's own tfjs forward. */
export function tfjsEngine(model: SegmentationModel): InferenceEngine {
  return {
    kind: 'tfjs',
    numClasses: model.config.numClasses,
    config: model.config,
    padsToStride: false,
    logits: (images) => Promise.resolve(wholeImageLogits(model, images)),
    dispose: () => Promise.resolve(),
  };
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
  return {
    kind: 'onnxruntime',
    device: sessionDevice(options),
    numClasses: k,
    config: info.model,
    padsToStride: info.padToStride,
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
