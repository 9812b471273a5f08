/** The tfjs engine: seg's own forward on the active tfjs backend. */
import type { tf } from '../../engine/tf.js';
import type { SegmentationModel } from '../../segmentation/model.js';
import { wholeImageLogits } from '../../segmentation/model-logits.js';
import { inferenceMemoryEstimator } from '../../segmentation/memory-estimate.js';
import type { EngineCapabilities, EngineFactory, InferenceEngine } from './engine.js';

export const TFJS_CAPABILITIES: EngineCapabilities = {
  checkpoints: true,
  onnxFiles: false,
  onDeviceCounting: true,
  devices: 'any',
  memory: 'backend',
};

export interface TfjsEngineOptions {
  /** Dispose the model with the engine (default false: the caller keeps it). */
  ownsModel?: boolean;
}

/** seg's own tfjs forward over `model`. */
export function tfjsEngine(model: SegmentationModel, options: TfjsEngineOptions = {}): InferenceEngine {
  // Built on first use (auto mode), then kept: the spec is not rebuilt per image or window.
  let estimate: ReturnType<typeof inferenceMemoryEstimator> | undefined;
  return {
    kind: 'tfjs',
    capabilities: TFJS_CAPABILITIES,
    numClasses: model.config.numClasses,
    outputStride: model.config.outputStride,
    padsToStride: false,
    estimateMemory(height, width, batch) {
      estimate ??= inferenceMemoryEstimator(model.config);
      return estimate(height, width, batch).bytes;
    },
    logits: (images: tf.Tensor4D) => Promise.resolve(wholeImageLogits(model, images)),
    dispose: () => Promise.resolve(options.ownsModel === true ? model.dispose() : undefined),
  };
}

export const tfjsEngineFactory: EngineFactory = {
  capabilities: TFJS_CAPABILITIES,
  suits: () => Promise.resolve(true),
  open(source) {
    if (source.kind !== 'checkpoint') throw new Error('tfjs engine: opened on an .onnx file (the registry checks capabilities first)');
    const { trained } = source;
    return Promise.resolve({
      engine: tfjsEngine(trained.model, { ownsModel: true }),
      headSpec: trained.head.spec,
      classNames: trained.config.classNames,
      normalization: trained.normalization,
    });
  },
};
