/** The layer kinds seg ships, in the order they are registered (a new built-in kind: one file in this folder, one line here). */
import type { LayerKind, LayerSpec } from '../layer-kind.js';
import { batchNormKind } from './batch-norm.js';
import { concatKind } from './concat.js';
import { convKind } from './conv.js';
import { dropoutKind } from './dropout.js';
import { globalAvgPoolKind } from './global-avg-pool.js';
import { maxPoolKind } from './max-pool.js';
import { reluKind } from './relu.js';
import { residualKind } from './residual.js';
import { resizeKind } from './resize.js';
import { sequentialKind } from './sequential.js';

export const BUILTIN_LAYER_KINDS: readonly LayerKind<LayerSpec>[] = [
  convKind,
  batchNormKind,
  reluKind,
  maxPoolKind,
  globalAvgPoolKind,
  dropoutKind,
  resizeKind,
  sequentialKind,
  residualKind,
  concatKind,
];
