/**
 * One training step: forward, the head's loss (whose gradient w.r.t. the logits is the
 * head's own rule, see heads/), backward through the model, optional clipping of the
 * gradients' global norm, one SGD update. Everything runs inside tf.tidy: the tensor count
 * is the same after every step.
 *
 * `issueTrainStep` only issues the work, on tensors the caller made, and returns the step's
 * summary tensor unread: a captured step (captured-step-runner.ts) records exactly this.
 * `trainStep` is the eager step: tensors from the batch, issue, one `await data()`.
 */
import { tf } from '../engine/tf.js';
import type { Head } from '../heads/head.js';
import type { Rng } from '../core/random.js';
import { VOID_LABEL } from '../image/types.js';
import type { Batch } from '../data-loading/types.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { ForwardOptions } from '../nn/layer-forward.js';
import type { MomentumSgd } from './sgd.js';
import { clipGradientsByGlobalNorm } from './grad-clip.js';

export interface StepOptions {
  lr: number;
  freezeBn: boolean;
  dropoutRng?: Rng;
  /** Clip the gradients to this global L2 norm before the update (see grad-clip.ts). */
  clipGradNorm?: number;
  /** Weight of the aux classifier's loss (the same head on the model's aux logits); the loss is main + weight x aux. */
  auxLoss?: number;
}

export interface StepResult {
  loss: number;
  /** Correct / valid pixels of this batch's training predictions (NaN if none are valid). */
  pixelAccuracy: number;
  /** The gradients' global L2 norm before clipping; only with `clipGradNorm`. */
  gradNorm?: number;
}

/** What a step reads: normalised images [N,H,W,3], int32 labels [N,H,W], the learning rate. */
export interface StepTensors {
  images: tf.Tensor4D;
  labels: tf.Tensor3D;
  lr: tf.Scalar;
}

export interface IssueOptions {
  freezeBn: boolean;
  dropoutRng?: Rng;
  /** Where dropout's noise comes from (see ForwardOptions.dropoutNoise). */
  dropoutNoise?: ForwardOptions['dropoutNoise'];
  clipGradNorm?: number;
  auxLoss?: number;
}

/**
 * Issue one step on `inputs` and return its summary [loss, correct pixels, valid pixels] (and
 * the gradient norm with clipping), unread; the caller reads and disposes it.
 */
export function issueTrainStep(
  model: SegmentationModel,
  head: Head,
  sgd: MomentumSgd,
  inputs: StepTensors,
  options: IssueOptions,
): tf.Tensor1D {
  const trainable = [...model.params.values()];
  const names = [...model.params.keys()];
  return tf.tidy(() => {
    const { images, labels } = inputs;
    let counts: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const forward = {
        training: true,
        freezeBn: options.freezeBn,
        ...(options.dropoutRng !== undefined ? { dropoutRng: options.dropoutRng } : {}),
        ...(options.dropoutNoise !== undefined ? { dropoutNoise: options.dropoutNoise } : {}),
      };
      const auxWeight = options.auxLoss ?? 0;
      const { logits, aux } =
        auxWeight > 0 ? model.forwardWithAux(images, forward) : { logits: model.forward(images, forward), aux: undefined };
      // Training accuracy from the same logits, kept out of the gradient tape's cleanup.
      counts = tf.tidy(() => {
        const validMask = tf.notEqual(labels, VOID_LABEL);
        const hits = tf.logicalAnd(tf.equal(head.predict(logits), labels), validMask);
        return [tf.sum(tf.cast(hits, 'float32')), tf.sum(tf.cast(validMask, 'float32'))];
      });
      for (const t of counts) tf.keep(t);
      const loss = head.loss(logits, labels);
      return aux === undefined ? loss : tf.add(loss, tf.mul(head.loss(aux, labels), auxWeight));
    }, trainable);
    const byName = new Map<string, tf.Tensor>();
    for (let i = 0; i < names.length; i++) {
      const g = grads[(trainable[i] as tf.Variable).name];
      if (g !== undefined) byName.set(names[i] as string, g);
    }
    const summaryValues = [value, counts[0] as tf.Tensor, counts[1] as tf.Tensor];
    if (options.clipGradNorm !== undefined) {
      const clipped = clipGradientsByGlobalNorm(byName, options.clipGradNorm);
      sgd.apply(clipped.grads, inputs.lr);
      summaryValues.push(clipped.norm);
    } else {
      sgd.apply(byName, inputs.lr);
    }
    const stacked = tf.stack(summaryValues) as tf.Tensor1D;
    tf.dispose(counts); // kept above, so tidy leaves them
    return stacked;
  });
}

/** The step's result from its summary values (see issueTrainStep). */
export function stepResult(summary: ArrayLike<number>): StepResult {
  const [loss, c, v, norm] = Array.from(summary);
  return {
    loss: loss as number,
    pixelAccuracy: (v as number) > 0 ? (c as number) / (v as number) : Number.NaN,
    ...(norm !== undefined ? { gradNorm: norm } : {}),
  };
}

/**
 * The eager step. Reads back one small tensor (loss and pixel counts) with `await data()`: no
 * synchronous read. `onIssued` is called once the work is issued, before the read.
 */
export async function trainStep(
  model: SegmentationModel,
  head: Head,
  sgd: MomentumSgd,
  batch: Batch,
  options: StepOptions,
  onIssued?: () => void,
): Promise<StepResult> {
  const [n, h, w] = batch.shape;
  const inputs: StepTensors = {
    images: tf.tensor4d(batch.images, [n, h, w, 3]),
    labels: tf.tensor3d(batch.labels, [n, h, w], 'int32'),
    lr: tf.scalar(options.lr),
  };
  let summary: tf.Tensor1D;
  try {
    summary = issueTrainStep(model, head, sgd, inputs, {
      freezeBn: options.freezeBn,
      ...(options.dropoutRng !== undefined ? { dropoutRng: options.dropoutRng } : {}),
      ...(options.clipGradNorm !== undefined ? { clipGradNorm: options.clipGradNorm } : {}),
      ...(options.auxLoss !== undefined ? { auxLoss: options.auxLoss } : {}),
    });
  } finally {
    tf.dispose([inputs.images, inputs.labels, inputs.lr]);
  }
  onIssued?.();
  try {
    return stepResult(await summary.data());
  } finally {
    summary.dispose();
  }
}
