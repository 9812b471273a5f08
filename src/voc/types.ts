/**
 * The vocabulary of the data layer. Images are row-major HxWx3 RGB; labels are row-major HxW
 * class indices with 255 = void (never trained on, never scored).
 */
import type { RngState } from '../core/random.js';

/** Class indices of one label PNG, exactly as stored (palette index or gray value). */
export interface LabelImage {
  width: number;
  height: number;
  /** HxW indices. */
  data: Uint8Array;
}

/** A decoded image: HxWx3 RGB bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The label value that marks pixels never trained on and never scored. */
export const VOID_LABEL = 255;

/** One decoded dataset entry. */
export interface Sample {
  id: string;
  width: number;
  height: number;
  /** HxWx3 RGB bytes. */
  image: Uint8Array;
  /** HxW class indices, 255 = void. */
  label: Uint8Array;
}

/** A sample after augmentation: the image normalised (ImageNet mean/std), the label untouched. */
export interface AugmentedSample {
  id: string;
  width: number;
  height: number;
  /** HxWx3 float32, (value/255 - mean) / std per channel. */
  image: Float32Array;
  /** HxW class indices, 255 = void. */
  label: Uint8Array;
}

/** A training batch as plain typed arrays (NHWC); the trainer makes tensors from them. */
export interface Batch {
  /** N*H*W*3 normalised pixels, NHWC. */
  images: Float32Array;
  /** N*H*W class indices, 255 = void. */
  labels: Int32Array;
  /** [N, H, W]. */
  shape: [number, number, number];
  ids: string[];
  /** Epoch of the batch's first sample (0-based). */
  epoch: number;
}

/**
 * Where a train loader stands, after the last batch it handed out: enough to resume the
 * exact same stream of batches. `rng` is the loader's generator at the start of `epoch`
 * (the epoch's order and per-sample seeds are drawn from it); `position` is the number of
 * samples of that epoch already handed out; `samples` is the split's length, checked on resume.
 */
export interface LoaderState {
  seed: number;
  epoch: number;
  position: number;
  rng: RngState;
  samples: number;
}
