/**
 * An exact confusion matrix over pixels: counts[label * K + prediction]. Label 255 (void)
 * is skipped. Counts are float64, exact integers up to 2^53 (VOC val is ~1e8 pixels), so
 * matrices from several images, batches or workers can be merged without rounding.
 * Computing metrics and formatting them live in their own modules.
 */
import { tf } from '../engine/tf.js';
import { VOID_LABEL as VOID } from '../image/types.js';

export type LabelArray = Uint8Array | Int32Array;

export class ConfusionMatrix {
  readonly numClasses: number;
  private readonly data: Float64Array;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) {
      throw new Error(`ConfusionMatrix: numClasses must be an integer in 1..255, got ${numClasses}`);
    }
    this.numClasses = numClasses;
    this.data = new Float64Array(numClasses * numClasses);
  }

  /** A matrix with given row-major counts (rows: ground truth, columns: prediction). */
  static fromCounts(numClasses: number, counts: ArrayLike<number>): ConfusionMatrix {
    const cm = new ConfusionMatrix(numClasses);
    if (counts.length !== numClasses * numClasses) {
      throw new Error(`ConfusionMatrix.fromCounts: expected ${numClasses * numClasses} counts, got ${counts.length}`);
    }
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i];
      if (!Number.isSafeInteger(c) || c < 0) throw new Error(`ConfusionMatrix.fromCounts: count ${i} is ${c}, expected an integer >= 0`);
      cm.data[i] = c;
    }
    return cm;
  }

  /**
   * Count one image (or batch) of pixels. `labels` and `predictions` are flat, same length;
   * labels are class indices or 255 (skipped). Out-of-range values are bugs upstream (the
   * data layer validates labels), so they throw a plain Error.
   */
  update(labels: LabelArray, predictions: LabelArray): void {
    if (labels.length !== predictions.length) {
      throw new Error(`ConfusionMatrix.update: ${labels.length} labels but ${predictions.length} predictions`);
    }
    const k = this.numClasses;
    // Check everything first so that a failed update leaves the counts untouched.
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i];
      if (t === VOID) continue;
      const p = predictions[i];
      if (t < 0 || t >= k) throw new Error(`ConfusionMatrix.update: label ${t} at ${i} is outside 0..${k - 1} and not 255`);
      if (p < 0 || p >= k) throw new Error(`ConfusionMatrix.update: prediction ${p} at ${i} is outside 0..${k - 1}`);
    }
    const data = this.data;
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i];
      if (t !== VOID) data[t * k + predictions[i]] += 1;
    }
  }

  /**
   * `update` from int tensors of the same size (e.g. labels [N,H,W] and `head.predict`), read
   * with `await data()`. To count many batches without reading each, use DeviceConfusionMatrix.
   */
  async updateFromTensors(labels: tf.Tensor, predictions: tf.Tensor): Promise<void> {
    if (labels.size !== predictions.size) {
      throw new Error(`ConfusionMatrix.updateFromTensors: shapes [${labels.shape}] and [${predictions.shape}] differ in size`);
    }
    this.update(await asLabelArray(labels), await asLabelArray(predictions));
  }

  /** Add another matrix's counts into this one. */
  merge(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses) {
      throw new Error(`ConfusionMatrix.merge: ${other.numClasses} classes vs ${this.numClasses}`);
    }
    for (let i = 0; i < this.data.length; i++) this.data[i] += other.data[i];
  }

  reset(): void {
    this.data.fill(0);
  }

  /** A copy of the counts, row-major: counts[label * K + prediction]. */
  get counts(): Float64Array {
    return this.data.slice();
  }

  /** Pixels with ground truth `label` predicted as `prediction`. */
  get(label: number, prediction: number): number {
    return this.data[label * this.numClasses + prediction];
  }

  /** Number of (non-void) pixels counted. */
  get total(): number {
    let sum = 0;
    for (let i = 0; i < this.data.length; i++) sum += this.data[i];
    return sum;
  }
}

async function asLabelArray(t: tf.Tensor): Promise<LabelArray> {
  if (t.dtype === 'string' || t.dtype === 'complex64') throw new Error(`ConfusionMatrix: cannot count a ${t.dtype} tensor`);
  const values = (await t.data()) as Float32Array | Int32Array | Uint8Array;
  if (values instanceof Int32Array || values instanceof Uint8Array) return values;
  // float tensors of class indices: convert, refusing anything that is not an integer
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i])) throw new Error(`ConfusionMatrix: value ${values[i]} at ${i} is not a class index`);
    out[i] = values[i];
  }
  return out;
}

/** Pixels one int32 partial matrix may count before a new one is started (exact below 2^31). */
const PARTIAL_LIMIT = 2 ** 30;

/**
 * A confusion matrix accumulated on the device with tensor ops (one-hot products), so that
 * counting batches never reads a tensor back: `read()` reads the counts once, at the end.
 * Labels 255 are skipped like everywhere (a one-hot of an index >= K is all zeros); the
 * host-side range checks of `ConfusionMatrix.update` are not made here.
 */
export class DeviceConfusionMatrix {
  readonly numClasses: number;
  /** int32 [K, K] partial sums, each under PARTIAL_LIMIT pixels. */
  private readonly partials: tf.Tensor2D[] = [];
  private pixelsInLast = 0;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) {
      throw new Error(`DeviceConfusionMatrix: numClasses must be an integer in 1..255, got ${numClasses}`);
    }
    this.numClasses = numClasses;
  }

  /** Count labels against predictions: int tensors of the same size, kept on the device. */
  update(labels: tf.Tensor, predictions: tf.Tensor): void {
    if (labels.size !== predictions.size) {
      throw new Error(`DeviceConfusionMatrix.update: shapes [${labels.shape}] and [${predictions.shape}] differ in size`);
    }
    const k = this.numClasses;
    // float32 sums are exact up to 2^24: count larger inputs in slices.
    const chunk = 2 ** 24;
    for (let start = 0; start < labels.size; start += chunk) {
      const size = Math.min(chunk, labels.size - start);
      const counts = tf.tidy(() => {
        const t = tf.cast(tf.slice(tf.reshape(labels, [-1]), [start], [size]), 'int32') as tf.Tensor1D;
        const p = tf.cast(tf.slice(tf.reshape(predictions, [-1]), [start], [size]), 'int32') as tf.Tensor1D;
        // int32 one-hots, then cast: wasm's float32 OneHot writes integer bit patterns (tfjs 4.22).
        const oneHotT = tf.cast(tf.oneHot(t, k), 'float32') as tf.Tensor2D;
        const oneHotP = tf.cast(tf.oneHot(p, k), 'float32') as tf.Tensor2D;
        // rows: ground truth, columns: prediction
        return tf.cast(tf.matMul(oneHotT, oneHotP, true, false), 'int32') as tf.Tensor2D;
      });
      const last = this.partials[this.partials.length - 1];
      if (last === undefined || this.pixelsInLast + size > PARTIAL_LIMIT) {
        this.partials.push(counts);
        this.pixelsInLast = size;
      } else {
        this.partials[this.partials.length - 1] = tf.add(last, counts);
        this.pixelsInLast += size;
        tf.dispose([last, counts]);
      }
    }
  }

  /** The counts so far, read with `await data()`, as a host ConfusionMatrix. */
  async read(): Promise<ConfusionMatrix> {
    const total = new Float64Array(this.numClasses * this.numClasses);
    for (const partial of this.partials) {
      const values = await partial.data();
      for (let i = 0; i < total.length; i++) total[i] = (total[i] as number) + (values[i] as number);
    }
    return ConfusionMatrix.fromCounts(this.numClasses, total);
  }

  dispose(): void {
    tf.dispose(this.partials);
    this.partials.length = 0;
    this.pixelsInLast = 0;
  }
}
