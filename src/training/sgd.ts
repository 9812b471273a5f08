/**
 * SGD with momentum and weight decay, PyTorch semantics (as DeepLab / mmsegmentation train):
 *   g = grad + weightDecay * w;  v = momentum * v + g;  w = w - lr * v
 * Written out rather than tf.train.momentum so its state (one velocity per parameter,
 * keyed by name) is explicit, checkpointable and restorable bit-exactly.
 */
import { tf } from '../backend/tf.js';
import { inPlaceBackend, sgdStepInPlace } from '../backend/in-place-update.js';

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
}

export class MomentumSgd {
  readonly velocity = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly options: SgdOptions,
  ) {
    // In tf.tidy: the zeros the variable starts from would otherwise stay behind, one per parameter.
    // Unnamed: tfjs variable names are unique per process, and two optimizers may coexist.
    for (const [name, p] of params)
      this.velocity.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
  }

  /**
   * Apply one update with learning rate `lr` (a number, or a scalar tensor: a captured step
   * reads it from the device); `grads` are keyed by parameter name. On webgpu the velocity and
   * the parameter are updated in their own buffers (backend/in-place-update.ts); elsewhere
   * with ops and `assign`, to the same formula.
   */
  apply(grads: Map<string, tf.Tensor>, lr: number | tf.Scalar): void {
    const { momentum, weightDecay } = this.options;
    tf.tidy(() => {
      const rate = typeof lr === 'number' ? tf.scalar(lr) : lr;
      // The plain-op path's scalars, made once per step (not once per parameter) if needed.
      let scalars: { wd: tf.Scalar; mom: tf.Scalar } | undefined;
      for (const [name, p] of this.params) {
        const grad = grads.get(name);
        if (grad === undefined) continue;
        const v = this.velocity.get(name) as tf.Variable;
        const backend = inPlaceBackend(p);
        if (backend !== undefined) {
          sgdStepInPlace(backend, p, v, grad, rate, momentum, weightDecay);
          continue;
        }
        scalars ??= { wd: tf.scalar(weightDecay), mom: tf.scalar(momentum) };
        const g = weightDecay !== 0 ? tf.add(grad, tf.mul(p, scalars.wd)) : grad;
        v.assign(tf.add(tf.mul(v, scalars.mom), g));
        p.assign(tf.sub(p, tf.mul(v, rate)));
      }
    });
  }

  /** Replace the velocities (resume) with saved ones of the same names and shapes. */
  load(state: ReadonlyMap<string, tf.Tensor>): void {
    for (const [name, v] of this.velocity) {
      const saved = state.get(name);
      if (saved !== undefined) v.assign(saved);
    }
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
  }
}

/** Poly learning rate: lr * (1 - it / iters)^power, as DeepLab. */
export function polyLearningRate(base: number, iteration: number, iterations: number, power: number): number {
  return base * Math.max(0, 1 - iteration / iterations) ** power;
}
