/**
 * Peak memory of a training step or of whole-image inference, estimated from the model
 * spec (no tensors), and the check that stops a run before its first step when the
 * estimate exceeds what the backend can hold.
 *
 * The factors are measured, not derived: tf.profile's peakBytes of one training step on
 * the wasm backend (DeepLab-v3, ResNet-18/50 at widths 0.25-1, crops 64-448, batches 2-8,
 * ResNet-101 at 2 x 129, 21 classes) is at most 7.3 x the weight bytes (weights, gradients, momentum and the optimizer's
 * temporaries, all live until the step's tidy ends) plus 5.75 x the bytes of the layer
 * outputs of the batch (a tape keeps every op's output for backward; batch norm alone makes
 * several tensors of its input's size); the rounded-up factors below overestimate it by 0-10%. Whole-image inference keeps every
 * intermediate until its tidy ends: 1 x weights + 1.9 x the layer outputs. The wasm heap
 * exceeds the tensor peak by up to 1.4x (fragmentation; it never shrinks), so the wasm
 * budget for tensors is a fraction of its 4 GiB linear memory.
 */
import { totalmem } from 'node:os';
import { SegError } from '../core/errors.js';
import { backendTraits } from '../backend/backend-traits.js';
import { smallerBackbones } from '../backbones/registry.js';
import { layerActivations } from '../nn/layer-memory.js';
import { layerCost } from '../nn/layer-cost.js';
import { auxInputShape } from './describe-model.js';
import { type DeeplabSpec, type ModelConfig, deeplabSpec } from './deeplab-spec.js';

const FLOAT_BYTES = 4;
const GIB = 2 ** 30;

/** Measured multipliers (see the module comment), rounded up. */
export const TRAIN_WEIGHT_FACTOR = 7.5;
export const TRAIN_ACTIVATION_FACTOR = 6;
export const INFER_WEIGHT_FACTOR = 1;
export const INFER_ACTIVATION_FACTOR = 2;
/** Fixed allowance (input copies, small per-layer tensors) that matters only for tiny models. */
export const FIXED_OVERHEAD_BYTES = 2 ** 20;

export interface MemoryEstimate {
  /** Peak bytes, all together. */
  bytes: number;
  /** Weights and what scales with them (gradients, momentum, optimizer temporaries). */
  weightBytes: number;
  /** Activations (kept for backward in training; all intermediates in inference). */
  activationBytes: number;
}

export interface MemoryLimit {
  /** Bytes the backend can give to tensors; undefined: no known limit. */
  bytes: number | undefined;
  /** How the limit was arrived at, for messages. */
  description: string;
}

export { WASM_LINEAR_MEMORY_BYTES, WASM_TENSOR_SHARE } from '../backend/backend-traits.js';

/**
 * What a backend can hold. wasm: 70% of its 4 GiB linear memory. cpu: 80% of the machine's
 * RAM (its tensors are JavaScript typed arrays). tensorflow / webgpu: unknown (device memory
 * is not visible from tfjs), so no check.
 */
export function backendMemoryLimit(backend: string, machineBytes: number = totalmem()): MemoryLimit {
  const memory = backendTraits(backend).memory;
  if (memory.kind === 'linear') {
    const bytes = memory.totalBytes * memory.tensorShare;
    return {
      bytes,
      description: `the ${backend} backend (${memory.totalBytes / GIB} GiB of linear memory in all, about ${formatGiB(bytes)} of it for tensors)`,
    };
  }
  if (memory.kind === 'host-ram') {
    return {
      bytes: machineBytes * memory.share,
      description: `the ${backend} backend (${Math.round(memory.share * 100)}% of this machine's ${formatGiB(machineBytes)} RAM)`,
    };
  }
  return { bytes: undefined, description: `the ${backend} backend (no known limit)` };
}

export function formatGiB(bytes: number): string {
  return `${(bytes / GIB).toFixed(bytes < 10 * GIB ? 2 : 1)} GiB`;
}

/** Activations of the main tree plus, with `aux`, the aux classifier's (training runs both); values per image. */
function activationTally(
  config: ModelConfig | DeeplabSpec,
  height: number,
  width: number,
  aux: boolean,
): { values: number; weights: number } {
  const spec = 'root' in config ? config : deeplabSpec(config);
  const t = layerActivations(spec.root, { height, width, channels: 3 });
  let values = t.total;
  let weights = t.params + t.buffers;
  if (spec.aux !== undefined) {
    const a = layerActivations(spec.aux, auxInputShape(layerCost(spec.root, { height, width, channels: 3 }).stages), { height, width });
    weights += a.params + a.buffers; // held by the model in inference too
    if (aux) values += a.total;
  }
  return { values, weights };
}

/** Peak memory of one training step at batch x crop x crop (the aux classifier's branch included). */
export function estimateTrainingMemory(config: ModelConfig, batch: number, crop: number): MemoryEstimate {
  const t = activationTally(config, crop, crop, true);
  const weightBytes = TRAIN_WEIGHT_FACTOR * t.weights * FLOAT_BYTES;
  const activationBytes = TRAIN_ACTIVATION_FACTOR * t.values * batch * FLOAT_BYTES;
  return { bytes: weightBytes + activationBytes + FIXED_OVERHEAD_BYTES, weightBytes, activationBytes };
}

/**
 * Peak memory of whole-image inference on `batch` images of height x width (flip doubles
 * the batch), including the scores at image size. The aux classifier does not run; its
 * weights are held.
 */
export function estimateInferenceMemory(config: ModelConfig | DeeplabSpec, height: number, width: number, batch = 1): MemoryEstimate {
  const t = activationTally(config, height, width, false);
  const weightBytes = INFER_WEIGHT_FACTOR * t.weights * FLOAT_BYTES;
  const activationBytes = INFER_ACTIVATION_FACTOR * t.values * batch * FLOAT_BYTES;
  return { bytes: weightBytes + activationBytes + FIXED_OVERHEAD_BYTES, weightBytes, activationBytes };
}

/** estimateInferenceMemory of one model at any size, its spec built once (auto mode asks per image and window). */
export function inferenceMemoryEstimator(config: ModelConfig): (height: number, width: number, batch?: number) => MemoryEstimate {
  const spec = deeplabSpec(config);
  return (height, width, batch = 1) => estimateInferenceMemory(spec, height, width, batch);
}

export interface TrainingMemoryInput {
  config: ModelConfig;
  batch: number;
  crop: number;
}

function fits(input: TrainingMemoryInput, limit: number): boolean {
  return estimateTrainingMemory(input.config, input.batch, input.crop).bytes <= limit;
}

/** The largest batch in [2, upTo] that fits, or undefined. */
function largestBatch(input: TrainingMemoryInput, upTo: number, limit: number): number | undefined {
  for (let batch = upTo; batch >= 2; batch--) if (fits({ ...input, batch }, limit)) return batch;
  return undefined;
}

/**
 * Settings near `input` that fit under `limit`, as flag strings: a smaller batch (>= 2, for
 * batch norm) at this crop; a smaller crop (a multiple of 32 plus 1, as VOC's 513 and 321);
 * a smaller width; a smaller backbone; each with the largest batch that then fits.
 */
export function settingsThatFit(input: TrainingMemoryInput, limit: number): string[] {
  const out: string[] = [];
  const withBatch = (flags: string, candidate: TrainingMemoryInput): boolean => {
    const batch = largestBatch(candidate, input.batch, limit);
    if (batch === undefined) return false;
    out.push(batch === input.batch ? flags : `${flags} --batch ${batch}`);
    return true;
  };
  const batch = largestBatch(input, input.batch - 1, limit);
  if (batch !== undefined) out.push(`--batch ${batch}`);
  for (let crop = Math.floor((input.crop - 2) / 32) * 32 + 1; crop >= 65; crop -= 32) {
    if (withBatch(`--crop ${crop}`, { ...input, crop })) break;
  }
  for (const width of [0.75, 0.5, 0.25, 0.125]) {
    if (width < input.config.width && withBatch(`--width ${width}`, { ...input, config: { ...input.config, width } })) break;
  }
  const smaller = smallerBackbones(input.config.backbone);
  for (const backbone of smaller) {
    if (withBatch(`--backbone ${backbone}`, { ...input, config: { ...input.config, backbone } })) break;
  }
  return out;
}

/**
 * Throws a SegError before training when the estimated peak of one step exceeds the
 * backend's limit; the message gives the estimate, the limit and settings that fit.
 */
export function checkTrainingMemory(
  input: TrainingMemoryInput,
  backend: string,
  limit: MemoryLimit = backendMemoryLimit(backend),
): MemoryEstimate {
  const estimate = estimateTrainingMemory(input.config, input.batch, input.crop);
  if (limit.bytes === undefined || estimate.bytes <= limit.bytes) return estimate;
  const c = input.config;
  const options = settingsThatFit(input, limit.bytes);
  const suggestion =
    options.length > 0 ? `Settings that fit: ${options.join('; or ')}; ` : 'No smaller batch, crop, width or backbone alone fits; ';
  throw new SegError(
    `training ${c.backbone} (width ${c.width}, output stride ${c.outputStride}) at batch ${input.batch} x ${input.crop}x${input.crop} ` +
      `needs about ${formatGiB(estimate.bytes)} (weights, gradients and momentum ${formatGiB(estimate.weightBytes)}, ` +
      `activations kept for backward ${formatGiB(estimate.activationBytes)}), more than ${formatGiB(limit.bytes)} on ${limit.description}. ` +
      `${suggestion}or a GPU backend (--backend tensorflow with @tensorflow/tfjs-node-gpu). ` +
      `(--skip-memory-check trains anyway.)`,
    '--batch',
  );
}
