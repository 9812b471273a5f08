/** What the loaders hand out: augmented samples, batches, and the state that resumes them. */
import type { RngState } from '../core/random.js';

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
