/** The arguments of a training run (what `seg train` takes), with DeepLab's defaults. */
import { SegError } from '../core/errors.js';
import type { BackboneName, OutputStride } from '../backbones/resnet.js';

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
  crop: number;
  batch: number;
  iters: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  polyPower: number;
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
}

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'data' | 'out'> = {
  split: 'train',
  valSplit: 'val',
  head: 'softmax',
  backbone: 'resnet101',
  outputStride: 16,
  width: 1,
  multiGrid: false,
  crop: 513,
  batch: 8,
  iters: 30000,
  lr: 0.007,
  momentum: 0.9,
  weightDecay: 1e-4,
  polyPower: 0.9,
  evalEvery: 0,
  evalLimit: 0,
  saveEvery: 1000,
  logEvery: 10,
  seed: 0,
  freezeBn: false,
};

/** Checks the numeric ranges a CLI parser might not (configs also come from files). */
export function validateTrainConfig(c: TrainConfig): TrainConfig {
  const positive: (keyof TrainConfig)[] = ['crop', 'batch', 'iters', 'lr', 'logEvery'];
  for (const key of positive) {
    const v = c[key];
    if (typeof v !== 'number' || !(v > 0)) throw new SegError(`--${kebab(key)}: got ${String(v)}, expected a number > 0`, `--${kebab(key)}`);
  }
  const nonNegative: (keyof TrainConfig)[] = ['momentum', 'weightDecay', 'polyPower', 'evalEvery', 'evalLimit', 'saveEvery'];
  for (const key of nonNegative) {
    const v = c[key];
    if (typeof v !== 'number' || !(v >= 0)) throw new SegError(`--${kebab(key)}: got ${String(v)}, expected a number >= 0`, `--${kebab(key)}`);
  }
  if (c.batch < 2 && !c.freezeBn) {
    throw new SegError('--batch 1: batch norm needs at least 2 samples per batch in training; use --batch 2 or more, or --freeze-bn', '--batch');
  }
  return c;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
}
