/** The arguments of a training run (what `seg train` takes), with DeepLab's defaults. */
import {
  boolean,
  fieldPath,
  FieldError,
  integer,
  number,
  object,
  oneOf,
  optional,
  parse,
  string,
  type Schema,
  type Shape,
} from '../core/schema.js';
import { DEFAULT_WARMUP_RATIO } from './lr-schedule.js';
import type { BackboneName, OutputStride } from '../backbones/backbone.js';
import { backboneNameSchema, outputStrides } from '../backbones/registry.js';
import { WIDTH_RANGE } from '../backbones/width.js';
import { DEFAULT_DECODER, decoderNameSchema } from '../decoders/registry.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';

export interface TrainConfig {
  /** Dataset root in VOC layout. */
  data: string;
  split: string;
  valSplit: string;
  /** Head spec text: 'softmax', 'egb', 'egb:pow3', 'egb:exp:alpha=0.3', 'linear'. */
  head: string;
  backbone: BackboneName;
  outputStride: OutputStride;
  width: number;
  multiGrid: boolean;
  /** A registered decoder (decoders/registry.ts): `aspp` (DeepLab-v3) or `aspp-plus` (DeepLabV3+). */
  decoder: string;
  crop: number;
  batch: number;
  iters: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  polyPower: number;
  /** Iterations of linear warmup before the poly decay (mmengine's LinearLR; 0: none). See lr-schedule.ts. */
  warmupIters: number;
  /** The warmup's first learning-rate factor (LinearLR's `start_factor`), in [0, 1]. */
  warmupRatio: number;
  /** mmseg's PhotoMetricDistortion after the crop and flip (brightness, contrast, saturation, hue). */
  photometric: boolean;
  /**
   * Clip the gradients to this global L2 norm before each update (PyTorch's clip_grad_norm_);
   * absent: no clipping (DeepLab's and mmsegmentation's default).
   */
  clipGradNorm?: number;
  /**
   * Weight of torchvision's aux classifier loss (an FCNHead on layer3, the same head as the
   * main one; torchvision's references use 0.5); absent: no aux classifier.
   */
  auxLoss?: number;
  /** Evaluate on valSplit every N iterations (0: only at the end). */
  evalEvery: number;
  /** Evaluate on at most this many val images (0: all). */
  evalLimit: number;
  /** Save a checkpoint every N iterations (0: only at the end). */
  saveEvery: number;
  /** Write a trace row every N iterations. */
  logEvery: number;
  /** Run folder (checkpoint, trace.jsonl). */
  out: string;
  seed: number;
  /** ImageNet backbone weights (torchvision names) to start from. */
  pretrained?: string;
  freezeBn: boolean;
  /** Keep the checkpoint of the best evaluation by this metric in `<out>/best/` (mmseg's `save_best`). */
  saveBest?: SaveBestMetric;
  /** Write TensorBoard event files (scalars) into this folder. */
  tensorboard?: string;
}

/** Metrics `saveBest` may rank by; higher is better for each. */
export const SAVE_BEST_METRICS = ['mIoU', 'aAcc', 'mAcc', 'fwIoU'] as const;
export type SaveBestMetric = (typeof SAVE_BEST_METRICS)[number];

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'data' | 'out'> = {
  split: 'train',
  valSplit: 'val',
  head: 'softmax',
  backbone: 'resnet101',
  outputStride: 16,
  width: 1,
  multiGrid: false,
  decoder: DEFAULT_DECODER,
  crop: 513,
  batch: 8,
  iters: 30000,
  lr: 0.007,
  momentum: 0.9,
  weightDecay: 1e-4,
  polyPower: 0.9,
  warmupIters: 0,
  warmupRatio: DEFAULT_WARMUP_RATIO,
  photometric: false,
  evalEvery: 0,
  evalLimit: 0,
  saveEvery: 1000,
  logEvery: 10,
  seed: 0,
  freezeBn: false,
};

/** The rule for each field of a TrainConfig. */
export const TRAIN_CONFIG_SHAPE: Shape<TrainConfig> = {
  data: string({ nonEmpty: true }),
  split: string({ nonEmpty: true }),
  valSplit: string({ nonEmpty: true }),
  head: string({ nonEmpty: true }),
  backbone: backboneNameSchema(),
  outputStride: oneOf(outputStrides()),
  width: number({ min: WIDTH_RANGE[0], max: WIDTH_RANGE[1] }),
  multiGrid: boolean(),
  // Runs saved before decoders existed trained ASPP.
  decoder: withDefault(decoderNameSchema(), DEFAULT_DECODER),
  crop: integer({ min: 8 }),
  batch: integer({ min: 1 }),
  iters: integer({ min: 1 }),
  lr: number({ above: 0 }),
  momentum: number({ min: 0, max: 1 }),
  weightDecay: number({ min: 0 }),
  polyPower: number({ min: 0 }),
  // Runs saved before these fields existed had neither warmup nor photometric distortion.
  warmupIters: withDefault(integer({ min: 0 }), 0),
  warmupRatio: withDefault(number({ min: 0, max: 1 }), DEFAULT_WARMUP_RATIO),
  photometric: withDefault(boolean(), false),
  clipGradNorm: optional(number({ above: 0 })),
  // 0 is no aux classifier, stored as absent (so resumes compare 0 and absent as equal).
  auxLoss: (v, field) => {
    const w = optional(number({ min: 0 }))(v, field);
    return w === 0 ? undefined : w;
  },
  evalEvery: integer({ min: 0 }),
  evalLimit: integer({ min: 0 }),
  saveEvery: integer({ min: 0 }),
  logEvery: integer({ min: 1 }),
  out: string({ nonEmpty: true }),
  seed: integer({ min: 0, max: 2 ** 32 - 1 }),
  pretrained: optional(string({ nonEmpty: true })),
  freezeBn: boolean(),
  saveBest: optional(oneOf(SAVE_BEST_METRICS)),
  tensorboard: optional(string({ nonEmpty: true })),
};

/** Every field of a TrainConfig, checked (from flags, from code, or from a run's config.json). */
export const TRAIN_CONFIG_SCHEMA: Schema<TrainConfig> = object<TrainConfig>(TRAIN_CONFIG_SHAPE, (c, field) => {
  if (c.batch < 2 && !c.freezeBn) {
    throw new FieldError(
      fieldPath(field, 'batch'),
      'got 1; batch norm needs at least 2 samples per batch in training: use 2 or more, or freeze the batch-norm statistics (`freezeBn`)',
    );
  }
  if (c.warmupIters > c.iters) {
    throw new FieldError(
      fieldPath(field, 'warmupIters'),
      `got ${c.warmupIters}, more than the run's ${c.iters} iterations (\`iters\`); the warmup must end within the run`,
    );
  }
});

/** `schema`, with `fallback` for a missing value. */
function withDefault<T>(schema: Schema<T>, fallback: T): Schema<T> {
  return (v, field) => (v === undefined ? fallback : schema(v, field));
}

/** The model a run trains: its architecture flags, the dataset's class count, and the aux classifier with an aux loss. */
export function runModelConfig(
  c: Pick<TrainConfig, 'backbone' | 'outputStride' | 'width' | 'multiGrid' | 'auxLoss'> & Partial<Pick<TrainConfig, 'decoder'>>,
  numClasses: number,
): ModelConfig {
  return {
    backbone: c.backbone,
    outputStride: c.outputStride,
    width: c.width,
    numClasses,
    multiGrid: c.multiGrid,
    ...(c.auxLoss !== undefined && c.auxLoss > 0 ? { auxClassifier: true as const } : {}),
    ...(c.decoder !== undefined && c.decoder !== DEFAULT_DECODER ? { decoder: c.decoder } : {}),
  };
}

/** Checks every field (configs also come from code and files); returns a clean copy. */
export function validateTrainConfig(c: TrainConfig, file?: string): TrainConfig {
  return parse(TRAIN_CONFIG_SCHEMA, c, file !== undefined ? { file } : {});
}

/** Checks the fields present in `c` (e.g. the flags typed, before the rest of a config is known). */
export function validateTrainFields(c: Partial<TrainConfig>): void {
  for (const key of Object.keys(c) as (keyof TrainConfig)[]) {
    if (c[key] !== undefined && key in TRAIN_CONFIG_SHAPE) TRAIN_CONFIG_SHAPE[key](c[key], key);
  }
}
