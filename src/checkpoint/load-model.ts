/**
 * A trained model ready for evaluation or prediction, from a run folder or a checkpoint folder:
 * the one way to load a checkpoint for inference (training/run-checkpoint.ts loadRunCheckpoint
 * is the one way to load it for resuming). Weights with NaN or infinite values are refused.
 */
import { createHead, type Head } from '../heads/head.js';
import type { Normalization } from '../data-loading/normalize.js';
import { loadCheckpoint } from './checkpoint.js';
import type { CheckpointConfig } from './checkpoint-config.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { resolveModelDir } from '../checkpoint/run-layout.js';

export interface TrainedModel {
  dir: string;
  config: CheckpointConfig;
  model: SegmentationModel;
  head: Head;
  normalization: Normalization;
}

export function loadTrainedModel(path: string): TrainedModel {
  const loaded = loadCheckpoint(resolveModelDir(path), { optimizer: false });
  return {
    dir: loaded.dir,
    config: loaded.config,
    model: loaded.model,
    head: createHead(loaded.headSpec, loaded.config.model.numClasses),
    normalization: loaded.config.normalization,
  };
}
