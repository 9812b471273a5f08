/**
 * What eval and predict run: an inference engine (engines/registry.ts) over a checkpoint
 * (seg's tfjs forward, or the checkpoint exported in memory to onnxruntime) or over an .onnx
 * file from `seg export`, with the head, class names and normalisation that go with it.
 */
import { SegError } from '../core/errors.js';
import type { BackendTraits } from '../engine/backend-traits.js';
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { createHead, type Head } from '../heads/head.js';
import type { Normalization } from '../data-loading/normalize.js';
import type { EngineSource, InferenceEngine } from './engines/engine.js';
import { openEngine } from './engines/registry.js';

export interface PredictorSource {
  checkpoint?: string;
  /** An .onnx file written by `seg export`. */
  onnx?: string;
  /** A registered engine name; default: the registry's choice for the source and backend. */
  engine?: string;
  /** The active tfjs backend (decides the default engine and where onnxruntime runs). */
  backend: BackendTraits;
}

export interface Predictor {
  /** What predictMask / evaluateModel / predictFiles take. */
  engine: InferenceEngine;
  head: Head;
  classNames: string[];
  normalization: Normalization;
  dispose(): Promise<void>;
}

export async function openPredictor(source: PredictorSource): Promise<Predictor> {
  if ((source.checkpoint === undefined) === (source.onnx === undefined)) {
    throw new SegError('pass exactly one of --checkpoint DIR or --onnx FILE', '--checkpoint');
  }
  const from: EngineSource =
    source.onnx !== undefined
      ? { kind: 'onnx', file: source.onnx }
      : { kind: 'checkpoint', trained: loadTrainedModel(source.checkpoint as string) };
  const opened = await openEngine(from, { backend: source.backend }, source.engine);
  return {
    engine: opened.engine,
    head: createHead(opened.headSpec, opened.engine.numClasses),
    classNames: opened.classNames,
    normalization: opened.normalization,
    dispose: () => opened.engine.dispose(),
  };
}
