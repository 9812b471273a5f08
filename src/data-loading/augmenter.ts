/**
 * The augmenters: a list of transforms, then normalisation. Train: random scale, pad to the
 * crop (mean pixel, 255), random crop, random flip; with photometric distortion: random
 * scale and crop, flip, distortion, then the padding. Eval: the whole image, label untouched.
 */
import type { Rng } from '../core/random.js';
import { IMAGENET_NORMALIZATION, meanPixel, normalizeImage, type Normalization } from './normalize.js';
import { PHOTOMETRIC_DEFAULTS, randomPhotometricDistortion, type PhotometricOptions } from './photometric.js';
import {
  applyTransforms,
  padTo,
  randomHorizontalFlip,
  randomScaleCrop,
  randomScaleCropWindow,
  TRAIN_SCALES,
  type Transform,
} from './transforms.js';
import type { AugmentedSample } from './types.js';
import type { Sample } from '../datasets/types.js';

export type Augmenter = (sample: Sample, rng: Rng) => Promise<AugmentedSample>;

export interface TrainAugmentOptions {
  /** Side of the square crop (default 513, DeepLab's). */
  crop?: number;
  /** Scales drawn uniformly (default 0.5..2.0 step 0.25). */
  scales?: readonly number[];
  /** Probability of a horizontal flip (default 0.5). */
  flipProbability?: number;
  /** mmseg's PhotoMetricDistortion after the flip (true: mmseg's defaults). */
  photometric?: boolean | PhotometricOptions;
  normalization?: Normalization;
}

export const DEFAULT_CROP = 513;

/** The training transforms, in order (normalisation follows them). */
export function trainTransforms(options: TrainAugmentOptions = {}): Transform[] {
  const crop = options.crop ?? DEFAULT_CROP;
  if (!Number.isInteger(crop) || crop < 1) throw new Error(`trainTransforms: crop must be a positive integer, got ${crop}`);
  const fill = meanPixel(options.normalization ?? IMAGENET_NORMALIZATION);
  const scales = options.scales ?? TRAIN_SCALES;
  const flip = randomHorizontalFlip(options.flipProbability ?? 0.5);
  if (options.photometric !== undefined && options.photometric !== false) {
    // mmseg's order: crop, flip, photometric distortion, then padding (its data preprocessor
    // pads last), so padding pixels stay the mean pixel.
    const photometric = options.photometric === true ? PHOTOMETRIC_DEFAULTS : options.photometric;
    return [randomScaleCropWindow(crop, scales), flip, randomPhotometricDistortion(photometric), padTo(crop, fill)];
  }
  // randomScaleCrop = [randomScale, padTo (mean pixel, 255), randomCrop] fused: same draws, same result, less work.
  return [randomScaleCrop(crop, fill, scales), flip];
}

/** Transforms a list of transforms, then normalises; the label passes through. */
export function createAugmenter(transforms: readonly Transform[], normalization: Normalization = IMAGENET_NORMALIZATION): Augmenter {
  return async (sample, rng) => {
    const out = await applyTransforms(transforms, sample, rng);
    return {
      id: sample.id,
      width: out.width,
      height: out.height,
      image: normalizeImage(out.image, normalization),
      label: out.label,
    };
  };
}

export function createTrainAugmenter(options: TrainAugmentOptions = {}): Augmenter {
  return createAugmenter(trainTransforms(options), options.normalization);
}

/** Evaluation: the whole image normalised, the label untouched. */
export function createEvalAugmenter(normalization: Normalization = IMAGENET_NORMALIZATION): Augmenter {
  return createAugmenter([], normalization);
}
