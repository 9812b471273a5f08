/** The memory check of a training configuration, run before the first step. */
import { checkTrainingMemory, backendMemoryLimit, type MemoryEstimate, type MemoryLimit } from '../segmentation/memory-estimate.js';
import { runModelConfig, type TrainConfig } from './train-config.js';

/**
 * Throws a SegError (estimate, limit, settings that fit) when one step of `config` would not
 * fit in the memory of `backend`; returns the estimate otherwise.
 */
export function checkTrainConfigMemory(
  config: Pick<TrainConfig, 'backbone' | 'outputStride' | 'width' | 'multiGrid' | 'auxLoss' | 'batch' | 'crop'> &
    Partial<Pick<TrainConfig, 'decoder'>>,
  numClasses: number,
  backend: string,
  limit: MemoryLimit = backendMemoryLimit(backend),
): MemoryEstimate {
  return checkTrainingMemory(
    {
      config: runModelConfig(config, numClasses),
      batch: config.batch,
      crop: config.crop,
    },
    backend,
    limit,
  );
}
