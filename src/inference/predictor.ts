/**
 * What eval and predict run: a checkpoint on seg's tfjs forward, the same checkpoint
 * exported in memory to onnxruntime, or an .onnx file from `seg export` on onnxruntime.
 */
import { SegError } from '../core/errors.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { createHead, type Head } from '../heads/head.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { Normalization } from '../data-loading/normalize.js';
import {
  defaultEngineKind,
  type EngineKind,
  exportedOnnxRuntimeEngine,
  type InferenceEngine,
  onnxRuntimeEngine,
  readOnnxFile,
} from './engine.js';
import { defaultSessionOptions, sessionDevice, type OrtDevice, type OrtSessionOptions } from './onnxruntime-loader.js';

export interface PredictorSource {
  checkpoint?: string;
  /** An .onnx file written by `seg export` (runs on onnxruntime). */
  onnx?: string;
  /** Default: tfjs on a GPU backend, else onnxruntime when it loads, else tfjs. */
  engine?: EngineKind;
  /** Whether the active tfjs backend runs on a GPU (decides the default engine). */
  gpuBackend: boolean;
  /** Where onnxruntime runs the graph (default its CPU provider). */
  onnxDevice?: OrtDevice;
}

export interface Predictor {
  engine: EngineKind;
  /** For onnxruntime: its execution provider. */
  device?: OrtDevice;
  /** What predictMask / evaluateModel / predictFiles take. */
  model: SegmentationModel | InferenceEngine;
  head: Head;
  classNames: string[];
  normalization: Normalization;
  /** The model pads images to the output stride itself (an .onnx file exported with --pad-to-stride). */
  padsToStride: boolean;
  dispose(): Promise<void>;
}

function sessionOptions(source: PredictorSource): OrtSessionOptions {
  return defaultSessionOptions(undefined, source.onnxDevice ?? 'cpu');
}

export async function openPredictor(source: PredictorSource): Promise<Predictor> {
  if ((source.checkpoint === undefined) === (source.onnx === undefined)) {
    throw new SegError('pass exactly one of --checkpoint DIR or --onnx FILE', '--checkpoint');
  }
  if (source.onnx !== undefined) {
    if (source.engine === 'tfjs') {
      throw new SegError(
        `--onnx ${source.onnx} runs on onnxruntime: use --engine onnxruntime, or --checkpoint DIR for --engine tfjs`,
        '--engine',
      );
    }
    const engine = await onnxRuntimeEngine(readOnnxFile(source.onnx), source.onnx, sessionOptions(source));
    return {
      engine: 'onnxruntime',
      device: sessionDevice(sessionOptions(source)),
      model: engine,
      head: createHead(engine.info.headSpec, engine.numClasses),
      classNames: engine.info.classNames,
      normalization: engine.info.normalization,
      padsToStride: engine.padsToStride,
      dispose: () => engine.dispose(),
    };
  }
  const kind = source.engine ?? (await defaultEngineKind(source.gpuBackend));
  const trained = loadTrainedModel(source.checkpoint as string);
  const common = { head: trained.head, classNames: trained.config.classNames, normalization: trained.normalization, padsToStride: false };
  if (kind === 'tfjs') {
    return { engine: kind, model: trained.model, ...common, dispose: () => Promise.resolve(trained.model.dispose()) };
  }
  try {
    const engine = await exportedOnnxRuntimeEngine(trained.model, {
      headSpec: trained.head.spec,
      classNames: trained.config.classNames,
      normalization: trained.normalization,
      session: sessionOptions(source),
    });
    return { engine: kind, device: sessionDevice(sessionOptions(source)), model: engine, ...common, dispose: () => engine.dispose() };
  } finally {
    trained.model.dispose();
  }
}
