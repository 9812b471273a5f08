/** The memory check of a training configuration, run before the first step. */
import { checkTrainingMemory, backendMemoryLimit, type MemoryEstimate, type MemoryLimit } from '../segmentation/memory-estimate.js';
import { runModelConfig, type TrainConfig } from './train-config.js';

/**
 * Throws a SegError (estimate, limit, settings that fit) when one step of `config` would not
 * fit in the memory of `backend`; returns the estimate otherwise.
 */
export function checkTrainConfigMemory(
  config: { model: TrainConfig['model']; data: Pick<TrainConfig['data'], 'batch' | 'crop'> },
  numClasses: number,
  backend: string,
  limit: MemoryLimit = backendMemoryLimit(backend),
): MemoryEstimate {
  return checkTrainingMemory(
    { config: runModelConfig(config.model, numClasses), batch: config.data.batch, crop: config.data.crop },
    backend,
    limit,
  );
}
