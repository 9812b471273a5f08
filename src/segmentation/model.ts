/**
 * The segmentation model: a DeepLab-v3 spec tree (deeplab-spec.ts) plus its weights as
 * tf.Variables keyed by torchvision names. Everything else (forward, counting, init,
 * checkpoints, import, export) walks `spec`, and `auxSpec` where the aux classifier matters
 * (training, checkpoints, counting); inference and export ignore it.
 */
import { tf } from '../backend/tf.js';
import { SegError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { type BatchNormSpec, type SequentialSpec, type WeightSpec, batchNormLayers, elementCount, weightSpecs } from '../nn/layer-spec.js';
import { type ForwardOptions, runLayers } from '../nn/layer-forward.js';
import { initialValue } from '../nn/layer-init.js';
import { AUX_SOURCE, type ModelConfig, deeplabSpec, validateModelConfig } from './deeplab-spec.js';

export interface SegmentationModel {
  readonly config: ModelConfig;
  /** The model tree (walk it; do not mutate). */
  readonly spec: SequentialSpec;
  /** The `backbone.*` subtree of `spec`. */
  readonly backboneSpec: SequentialSpec;
  /** torchvision's aux classifier (`aux_classifier.*`, run on layer3's output), when the config has one. */
  readonly auxSpec: SequentialSpec | undefined;
  /** Trainable weights, torchvision names, convs HWIO. */
  readonly params: Map<string, tf.Variable>;
  /** BN running_mean / running_var (trainable = false). */
  readonly buffers: Map<string, tf.Variable>;
  /**
   * Training forward passes that updated the BN running statistics (PyTorch's
   * `num_batches_tracked`, shared by all BN layers); saved in checkpoints.
   */
  batchesTracked: number;
  /**
   * Logits [N, H, W, K] at the input's size for normalised images [N, H, W, 3]. Works inside
   * tf.tidy and tf.variableGrads; in training mode (without freezeBn) it updates the BN
   * running statistics in place. Intermediates are disposed; the caller owns the result.
   */
  forward(images: tf.Tensor4D, options: ForwardOptions): tf.Tensor4D;
  /**
   * `forward` plus the aux classifier's logits [N, H, W, K] (undefined without one), from one
   * pass through the backbone; for training with an aux loss.
   */
  forwardWithAux(images: tf.Tensor4D, options: ForwardOptions): { logits: tf.Tensor4D; aux: tf.Tensor4D | undefined };
  dispose(): void;
}

/** Every weight of a model, the aux classifier's (after the main tree's) included. */
export function modelWeightSpecs(model: Pick<SegmentationModel, 'spec' | 'auxSpec'>): WeightSpec[] {
  return [...weightSpecs(model.spec), ...(model.auxSpec !== undefined ? weightSpecs(model.auxSpec) : [])];
}

/** Every batch-norm layer of a model, the aux classifier's included (each has a `num_batches_tracked`). */
export function modelBatchNormLayers(model: Pick<SegmentationModel, 'spec' | 'auxSpec'>): BatchNormSpec[] {
  return [...batchNormLayers(model.spec), ...(model.auxSpec !== undefined ? batchNormLayers(model.auxSpec) : [])];
}

class DeeplabModel implements SegmentationModel {
  batchesTracked = 0;
  private disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly spec: SequentialSpec,
    readonly backboneSpec: SequentialSpec,
    readonly auxSpec: SequentialSpec | undefined,
    readonly params: Map<string, tf.Variable>,
    readonly buffers: Map<string, tf.Variable>,
  ) {}

  forward(images: tf.Tensor4D, options: ForwardOptions): tf.Tensor4D {
    this.checkInput(images);
    const logits = tf.tidy(() => runLayers(this.spec, images, this, options));
    if (options.training && options.freezeBn !== true) this.batchesTracked += 1;
    return logits;
  }

  forwardWithAux(images: tf.Tensor4D, options: ForwardOptions): { logits: tf.Tensor4D; aux: tf.Tensor4D | undefined } {
    const auxSpec = this.auxSpec;
    if (auxSpec === undefined) return { logits: this.forward(images, options), aux: undefined };
    this.checkInput(images);
    const both = tf.tidy(() => {
      const taps = new Map<string, tf.Tensor4D | undefined>([[AUX_SOURCE, undefined]]);
      const logits = runLayers(this.spec, images, this, options, { taps });
      const source = taps.get(AUX_SOURCE);
      if (source === undefined) throw new Error(`forward: the model has no stage ${AUX_SOURCE} for the aux classifier`);
      const imageSize: [number, number] = [images.shape[1], images.shape[2]];
      return { logits, aux: runLayers(auxSpec, source, this, options, { imageSize, inputGradient: true }) };
    });
    if (options.training && options.freezeBn !== true) this.batchesTracked += 1;
    return both;
  }

  private checkInput(images: tf.Tensor4D): void {
    if (this.disposed) throw new Error('forward: the model has been disposed');
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new SegError(`model input: expected normalised RGB images [N, H, W, 3], got [${images.shape.join(', ')}]`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
  }
}

/** A model with freshly initialised weights (all draws from Rng(seed, 'init'), see layer-init.ts). */
export function createModel(config: ModelConfig, seed: number): SegmentationModel {
  const rng = new Rng(seed, 'init');
  return createModelWithWeights(config, (weight) => initialValue(weight, rng));
}

/**
 * A model whose weights come from `weightValue` (tfjs layout: convs HWIO), called once per
 * weight in execution order; used by checkpoint loading to skip the random init.
 */
export function createModelWithWeights(config: ModelConfig, weightValue: (weight: WeightSpec) => Float32Array): SegmentationModel {
  const clean = validateModelConfig(config);
  const { root, backbone, aux } = deeplabSpec(clean);
  const params = new Map<string, tf.Variable>();
  const buffers = new Map<string, tf.Variable>();
  try {
    for (const weight of modelWeightSpecs({ spec: root, auxSpec: aux })) {
      const trainable = weight.role === 'param';
      const values = weightValue(weight);
      if (values.length !== elementCount(weight.shape)) {
        throw new Error(`model weights: ${weight.name} has ${values.length} values, expected [${weight.shape.join(', ')}]`);
      }
      // Unnamed variables: tfjs names must be unique per process, and two models may coexist.
      const variable = tf.tidy(() => tf.variable(tf.tensor(values, weight.shape, 'float32'), trainable));
      (trainable ? params : buffers).set(weight.name, variable);
    }
  } catch (err) {
    for (const v of [...params.values(), ...buffers.values()]) v.dispose();
    throw err;
  }
  return new DeeplabModel(clean, root, backbone, aux, params, buffers);
}
