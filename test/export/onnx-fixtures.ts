/** Shared helpers for the ONNX tests: models with non-trivial weights, images, comparisons. */
import { tf } from '../../src/engine/tf.js';
import { Rng } from '../../src/core/random.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { loadOnnxRuntime } from '../../src/inference/engines/onnxruntime-loader.js';

/** Why the onnxruntime tests skip, or null when onnxruntime-node loads. */
export async function onnxRuntimeMissing(): Promise<string | null> {
  const loaded = await loadOnnxRuntime();
  return 'reason' in loaded ? loaded.reason : null;
}

/**
 * A model whose BN statistics and affine parameters are random (so folding BN into convs
 * is exercised) and whose classifier has unit-scale weights (so predictions vary).
 */
export function randomisedModel(config: ModelConfig, seed: number): SegmentationModel {
  const model = createModel(config, seed);
  const rng = new Rng(seed, 'onnx-test');
  const fill = (v: tf.Variable, f: () => number): void => {
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, f), v.shape));
  };
  for (const [name, v] of model.buffers) {
    if (name.endsWith('running_mean')) fill(v, () => 0.2 * rng.normal());
    else fill(v, () => 0.5 + rng.next());
  }
  for (const [name, v] of model.params) {
    if (v.rank !== 1) continue;
    if (name.endsWith('.weight')) fill(v, () => 0.8 + 0.4 * rng.next());
    else fill(v, () => 0.1 * rng.normal());
  }
  const classifier = model.params.get('classifier.4.weight') as tf.Variable;
  fill(classifier, () => 0.5 * rng.normal());
  return model;
}

export function randomImages(n: number, h: number, w: number, seed: number): Float32Array {
  const rng = new Rng(seed, 'image');
  return Float32Array.from({ length: n * h * w * 3 }, () => rng.normal());
}

/** ||a - b|| / ||b||. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    num += d * d;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}

/** Fraction of pixels whose argmax over the last axis (size k) agrees. */
export function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  const pixels = b.length / k;
  let same = 0;
  for (let p = 0; p < pixels; p++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < k; c++) {
      if ((a[p * k + c] as number) > (a[p * k + ia] as number)) ia = c;
      if ((b[p * k + c] as number) > (b[p * k + ib] as number)) ib = c;
    }
    if (ia === ib) same += 1;
  }
  return same / pixels;
}
