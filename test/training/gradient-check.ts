/**
 * Shared by gradient tests: a random batch, a model whose BN statistics and classifiers are
 * away from their init (so every path carries signal), and the finite-difference check of a
 * train step's update against a surrogate whose gradient the step must follow.
 */
import { expect } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { Rng } from '../../src/core/random.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import type { Batch } from '../../src/data-loading/types.js';

/** N x H x W normal images and labels in [0, K) with every 11th pixel void. */
export function randomBatch(seed: number, numClasses: number, [n, h, w]: [number, number, number]): Batch {
  const rng = new Rng(seed, 'batch');
  const images = Float32Array.from({ length: n * h * w * 3 }, () => rng.normal());
  const labels = Int32Array.from({ length: n * h * w }, (_, i) => (i % 11 === 0 ? 255 : rng.int(numClasses)));
  return { ids: Array.from({ length: n }, (_, i) => `s${i}`), images, labels, shape: [n, h, w] } as Batch;
}

/** A model with random BN statistics and N(0, 0.3) weights in the named classifiers. */
export function randomisedModel(config: ModelConfig, seed: number, classifiers: readonly string[]): SegmentationModel {
  const model = createModel(config, seed);
  const rng = new Rng(seed, 'randomise');
  for (const [name, v] of model.buffers) {
    const values = Float32Array.from({ length: v.size }, () => (name.endsWith('running_var') ? 0.5 + rng.next() : 0.2 * rng.normal()));
    v.assign(tf.tensor(values, v.shape));
  }
  for (const name of classifiers) {
    const v = model.params.get(name) as tf.Variable;
    v.assign(
      tf.tensor(
        Float32Array.from({ length: v.size }, () => 0.3 * rng.normal()),
        v.shape,
      ),
    );
  }
  return model;
}

/**
 * Central differences of `surrogate` at each probe (a weight name and a flat index), the
 * weights restored after each; `eps` small enough that no ReLU flips between the two sides.
 */
export function finiteDifferences(
  model: SegmentationModel,
  probes: readonly [string, number][],
  surrogate: () => number,
  eps: number,
): number[] {
  return probes.map(([name, i]) => {
    const v = model.params.get(name) as tf.Variable;
    const values = v.dataSync().slice() as Float32Array;
    const keep = values[i] as number;
    const at = (value: number): number => {
      values[i] = value;
      v.assign(tf.tensor(values, v.shape));
      return surrogate();
    };
    const d = (at(keep + eps) - at(keep - eps)) / (2 * eps);
    values[i] = keep;
    v.assign(tf.tensor(values, v.shape));
    return d;
  });
}

/** The probed weights' values now. */
export function probeValues(model: SegmentationModel, probes: readonly [string, number][]): number[] {
  return probes.map(([name, i]) => (model.params.get(name) as tf.Variable).dataSync()[i] as number);
}

/** A step with lr 1 and no momentum or decay moved each probe by minus the gradient: within 2% of the finite differences. */
export function expectUpdateIsGradient(
  probes: readonly [string, number][],
  before: readonly number[],
  after: readonly number[],
  numeric: readonly number[],
): void {
  probes.forEach(([name], j) => {
    const a = (before[j] as number) - (after[j] as number);
    const n = numeric[j] as number;
    expect(Math.abs(n), `${name} carries a gradient`).toBeGreaterThan(1e-5);
    expect(Math.abs(a - n) / Math.abs(n), `${name}: step ${a}, finite differences ${n}`).toBeLessThan(2e-2);
  });
}
