/**
 * The inference-engine contract: what maps a batch of normalised NHWC images to logits at
 * the images' own size (the network on the images as they are; padding to the output
 * stride, when asked, is done by inference.ts, or by the graph of a file exported with it).
 * Multi-scale, flip, sliding windows and the head's score averaging stay in inference.ts,
 * so every engine shares them. Engines are registered by name (registry.ts): tfjs.ts runs
 * seg's own forward, onnxruntime.ts the model exported to ONNX.
 */
import type { tf } from '../../engine/tf.js';
import type { BackendDevice, BackendTraits } from '../../engine/backend-traits.js';
import { SegError } from '../../core/errors.js';
import type { HeadSpec } from '../../heads/head-spec.js';
import type { TrainedModel } from '../../checkpoint/load-model.js';
import type { Normalization } from '../../data-loading/normalize.js';

/** What an engine can do, declared once at registration. */
export interface EngineCapabilities {
  /** Runs a checkpoint (`--checkpoint DIR`). */
  readonly checkpoints: boolean;
  /** Runs an .onnx file written by `seg export` (`--onnx FILE`). */
  readonly onnxFiles: boolean;
  /**
   * Its scores are tensors of the active tfjs backend, so evaluation can count the confusion
   * matrix on that device (where the backend's tensors do not live on the host) and read it once.
   */
  readonly onDeviceCounting: boolean;
  /**
   * The backend devices (BackendTraits.device) it runs its graph on; on any other it runs
   * on the first listed. 'any': wherever the tfjs backend runs.
   */
  readonly devices: readonly BackendDevice[] | 'any';
  /**
   * Whose memory `--mode auto` checks the whole image against: the active tfjs backend's,
   * or the host's RAM (an engine with its own CPU allocator, as onnxruntime's CPU provider).
   */
  readonly memory: 'backend' | 'host';
}

export interface InferenceEngine {
  /** The name it was registered under (`--engine`). */
  readonly kind: string;
  readonly capabilities: EngineCapabilities;
  /** Where it runs, when it has a choice (onnxruntime: its execution provider, 'cpu' or 'webgpu'). */
  readonly device?: string;
  readonly numClasses: number;
  /** The network's output stride (what padToStride pads to). */
  readonly outputStride: number;
  /** The engine pads images to the output stride itself (an ONNX file exported with --pad-to-stride). */
  readonly padsToStride: boolean;
  /**
   * Estimated peak bytes of the network's tensors in whole-image inference of `batch` images
   * of height x width (what `--mode auto` compares with the memory limit); computed from
   * what the engine keeps, without rebuilding the model.
   */
  estimateMemory(height: number, width: number, batch: number): number;
  /** Logits [N, H, W, K] for normalised images [N, H, W, 3]; the caller owns the result. */
  logits(images: tf.Tensor4D): Promise<tf.Tensor4D>;
  dispose(): Promise<void>;
}

/** What an engine is opened on: a loaded checkpoint, or an .onnx file. */
export type EngineSource = { kind: 'checkpoint'; trained: TrainedModel } | { kind: 'onnx'; file: string };

/** Where it is opened: the active tfjs backend. */
export interface EngineContext {
  backend: BackendTraits;
}

/** An opened engine with what predictions need beside it (from the checkpoint, or the .onnx file's metadata). */
export interface OpenedEngine {
  engine: InferenceEngine;
  headSpec: HeadSpec;
  classNames: string[];
  normalization: Normalization;
}

export interface EngineFactory {
  readonly capabilities: EngineCapabilities;
  /**
   * Whether this engine is a good default here (onnxruntime: installed, and the backend is
   * not a GPU one). The default engine is the highest-priority one that suits the context.
   */
  suits(context: EngineContext): Promise<boolean>;
  /**
   * Open the engine. It takes over a checkpoint's model: disposes it when done with it
   * (tfjs: at dispose; onnxruntime: once exported).
   */
  open(source: EngineSource, context: EngineContext): Promise<OpenedEngine>;
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
