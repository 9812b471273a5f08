/**
 * Evaluation: an exact confusion matrix over every valid pixel at the labels' own
 * resolution (255 ignored), from a model or from mask PNGs already on disk (as the VOC
 * devkit scores submissions).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SegError, isUserError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { isMemoryFailure } from '../core/memory-failure.js';
import type { Head } from '../heads/head.js';
import { ConfusionMatrix, DeviceConfusionMatrix } from '../metrics/confusion-matrix.js';
import { tf } from '../engine/tf.js';
import { computeMetrics, type SegMetrics } from '../metrics/segmentation-metrics.js';
import { createEvalLoader, type EvalSample } from '../data-loading/batch-loader.js';
import { scoredSplitIds, type Dataset } from '../datasets/dataset.js';
import { loadLabelPng, readLabelPngSize } from '../image/label-png.js';
import { applyLabelMap } from '../datasets/label-map.js';
import { VOID_LABEL } from '../image/types.js';
import { activeBackendTraits } from '../engine/backend-traits.js';
import { chooseInferenceMode, predictMask, predictScores, type PredictOptions } from './inference.js';
import { FixedSizeError, type InferenceEngine } from './engines/engine.js';

export interface EvaluationResult {
  metrics: SegMetrics;
  /** Images scored. */
  images: number;
  confusion: ConfusionMatrix;
  /** Images that failed and were left out of the metrics (only with `skipFailures`). */
  skipped: SkippedImage[];
}

export interface SkippedImage {
  id: string;
  error: string;
}

export interface EvaluateOptions extends PredictOptions {
  /** Only the first `limit` ids of the split. */
  limit?: number;
  /** Score these ids of the split instead of its whole list (e.g. one shard's share). */
  ids?: readonly string[];
  /** Called after each image with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Leave out an image whose inference fails (a user error, or the engine out of memory),
   * record it in `skipped` and go on; default false: the failure propagates.
   */
  skipFailures?: boolean;
  /** Called for each skipped image. */
  onSkip?: (skipped: SkippedImage) => void;
  /** Called with each image's predicted mask (the masks are then computed on the host, also on GPU backends). */
  onPrediction?: (sample: EvalSample, mask: Uint8Array) => Promise<void> | void;
  /** Sliding windows of each image: (id, windows done, windows of the image). */
  windowProgress?: (id: string, done: number, total: number) => void;
}

/** Score an inference engine on a split of a dataset: whole images, optional multi-scale and flip. */
export async function evaluateModel(
  engine: InferenceEngine,
  head: Head,
  dataset: Dataset,
  split: string,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const numClasses = engine.numClasses;
  if (dataset.classNames.length !== numClasses) {
    throw new SegError(
      `the dataset at ${dataset.root} has ${dataset.classNames.length} classes, the model predicts ${numClasses}; ` +
        `evaluate on the dataset the model was trained for`,
    );
  }
  const ids = options.ids ?? scoredSplitIds(dataset, split);
  const loader = createEvalLoader({ dataset, split, ids, ...(options.limit !== undefined ? { limit: options.limit } : {}) });
  const confusion = new ConfusionMatrix(numClasses);
  // Where the engine's scores are tensors of a backend off the host, whole-image predictions are counted on the device and read once.
  const device =
    engine.capabilities.onDeviceCounting && !activeBackendTraits().hostTensors && options.onPrediction === undefined
      ? new DeviceConfusionMatrix(numClasses)
      : undefined;
  let done = 0;
  let scored = 0;
  const skipped: SkippedImage[] = [];
  options.onProgress?.(0, loader.size);
  try {
    for await (const sample of loader) {
      let mask: Uint8Array | undefined;
      let counted = false;
      try {
        if (device !== undefined && chooseInferenceMode(engine, sample.height, sample.width, options) === 'whole') {
          await countOnDevice(device, engine, head, sample, options);
          counted = true;
        } else {
          mask = await predictMask(engine, head, sample.image, sample.height, sample.width, {
            ...options,
            onWindow: (d, t) => options.windowProgress?.(sample.id, d, t),
          });
        }
      } catch (err) {
        if (err instanceof FixedSizeError) throw err.forImage(dataset.imagePath(sample.id), sample.width, sample.height);
        if (options.skipFailures !== true || !(isUserError(err) || isMemoryFailure(err))) throw err;
        const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
        const entry = {
          id: sample.id,
          error: isMemoryFailure(err) ? `out of engine memory (${text}); try --mode slide or a smaller --window` : text,
        };
        skipped.push(entry);
        options.onSkip?.(entry);
      }
      if (mask !== undefined) {
        confusion.update(sample.label, mask);
        await options.onPrediction?.(sample, mask);
      }
      if (mask !== undefined || counted) scored += 1;
      done += 1;
      options.onProgress?.(done, loader.size);
    }
    if (device !== undefined) confusion.merge(await device.read());
  } finally {
    loader.close();
    device?.dispose();
  }
  return { metrics: computeMetrics(confusion, dataset.classNames), images: scored, confusion, skipped };
}

/** Whole-image prediction of one sample counted into `device` without leaving the device. */
async function countOnDevice(
  device: DeviceConfusionMatrix,
  engine: InferenceEngine,
  head: Head,
  sample: EvalSample,
  options: PredictOptions,
): Promise<void> {
  const scores = await predictScores(engine, head, sample.image, sample.height, sample.width, options);
  const classes = tf.tidy(() => tf.argMax(scores, 2));
  scores.dispose();
  const labels = tf.tensor2d(Int32Array.from(sample.label), [sample.height, sample.width], 'int32');
  try {
    device.update(labels, classes);
  } finally {
    tf.dispose([classes, labels]);
  }
}

/** The mask file for an id in a predictions folder: `<id>.png`. */
export function predictionPath(predictions: string, id: string): string {
  return join(predictions, `${id}.png`);
}

/**
 * Score existing mask PNGs (palette or grayscale, one `<id>.png` per listed id) against a
 * split's labels. A missing mask or a size mismatch is an error naming the id.
 */
export async function evaluatePredictions(
  predictions: string,
  dataset: Dataset,
  split: string,
  options: Pick<EvaluateOptions, 'limit' | 'ids' | 'onProgress'> = {},
): Promise<EvaluationResult> {
  if (!existsSync(predictions)) {
    throw new SegError(`--predictions ${predictions}: no such folder; pass the folder that holds one <id>.png per image`, '--predictions');
  }
  const ids = options.ids !== undefined ? [...options.ids].slice(0, options.limit) : scoredSplitIds(dataset, split, options.limit);
  const k = dataset.classNames.length;
  const confusion = new ConfusionMatrix(k);
  const missing = ids.filter((id) => !existsSync(predictionPath(predictions, id)));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ');
    throw new SegError(
      `--predictions ${predictions}: ${missing.length} of ${ids.length} ids of split '${split}' have no mask ` +
        `(${shown}${missing.length > 5 ? ', ...' : ''}); expected ${predictionPath(predictions, missing[0] as string)}`,
      '--predictions',
    );
  }
  let done = 0;
  options.onProgress?.(0, ids.length);
  for (const id of ids) {
    const file = predictionPath(predictions, id);
    // Sizes from the two headers first (decoding keeps them): a mask of another size is never inflated.
    const labelFile = dataset.labelPath(id);
    const [l, m] = await Promise.all([readLabelPngSize(labelFile), readLabelPngSize(file)]);
    if (l.width !== m.width || l.height !== m.height) {
      throw new SegError(
        `${file}: mask for id '${printable(id)}' is ${m.width}x${m.height}, its label ${labelFile} is ${l.width}x${l.height}; masks must have the label's size`,
        file,
      );
    }
    const [stored, mask] = await Promise.all([loadLabelPng(labelFile), loadLabelPng(file)]);
    const label = { ...stored, data: applyLabelMap(stored.data, dataset.labelMap) };
    for (let i = 0; i < mask.data.length; i++) {
      const p = mask.data[i] as number;
      if (p >= k && label.data[i] !== VOID_LABEL) {
        throw new SegError(`${file}: mask for id '${id}' has value ${p} at pixel ${i}, expected a class in 0..${k - 1}`, file);
      }
    }
    confusion.update(label.data, mask.data);
    done += 1;
    options.onProgress?.(done, ids.length);
  }
  return { metrics: computeMetrics(confusion, dataset.classNames), images: done, confusion, skipped: [] };
}
