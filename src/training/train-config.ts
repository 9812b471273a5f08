/**
 * The arguments of a training run (what `seg train` takes), with DeepLab's defaults: the
 * nested TrainConfig made from the field table (train-fields.ts), its schema, and the
 * migration of version-1 (flat) settings read from old run folders.
 */
import { fieldPath, FieldError, isPlainObject, object, parse, type Schema, type Shape } from '../core/schema.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import {
  nestSettings,
  runModelConfig,
  TRAIN_GROUPS,
  trainFieldRow,
  trainFieldRows,
  type FlatTrainConfig,
  type TrainConfig,
  type TrainField,
  type TrainGroup,
} from './train-fields.js';

export {
  DEFAULT_TRAIN_CONFIG,
  flattenTrainConfig,
  nestTrainConfig,
  runModelConfig,
  SAVE_BEST_METRICS,
  type FlatTrainConfig,
  type SaveBestMetric,
  type TrainConfig,
  type TrainField,
} from './train-fields.js';

/** The settings a trace's runs share (all but head, seed and out), by flat name: a trace's `base` in trace.json. */
export type SharedTrainSettings = Omit<FlatTrainConfig, 'head' | 'seed' | 'out'>;

/** The model config of runs with these shared settings (the trace's warm-up). */
export function sharedRunModelConfig(base: SharedTrainSettings, numClasses: number): ModelConfig {
  return runModelConfig(nestSettings(base).model as TrainConfig['model'], numClasses);
}

/**
 * The version of the `training` settings a run's config.json holds: 1 flat (`{"lr": ...}`,
 * seg before the field table), 2 nested by group (`{"optim": {"lr": ...}}`).
 */
export const TRAIN_CONFIG_VERSION = 2;

/** The rule of each setting under its flat name; `legacy` rows take their old default when absent (version-1 files). */
export const FLAT_TRAIN_CONFIG_SHAPE: Shape<FlatTrainConfig> = Object.fromEntries(
  trainFieldRows().map(([name, row]) => {
    const legacy = row.legacy;
    const schema: Schema<unknown> = legacy === undefined ? row.schema : (v, at) => (v === undefined ? legacy : row.schema(v, at));
    return [name, schema];
  }),
) as Shape<FlatTrainConfig>;

function groupSchema(group: TrainGroup): Schema<unknown> {
  const shape = Object.fromEntries(trainFieldRows().flatMap(([, row]) => (row.group === group ? [[row.key, row.schema]] : [])));
  return object(shape as Shape<Record<string, unknown>>);
}

/** The checks between settings of different rows. */
function crossCheck(value: (f: TrainField) => unknown, at: (f: TrainField) => string): void {
  if ((value('batch') as number) < 2 && value('freezeBn') !== true) {
    throw new FieldError(
      at('batch'),
      'got 1; batch norm needs at least 2 samples per batch in training: use 2 or more, or freeze the batch-norm statistics (`freezeBn`)',
    );
  }
  const warmup = value('warmupIters') as number;
  const iters = value('iters') as number;
  if (warmup > iters) {
    throw new FieldError(
      at('warmupIters'),
      `got ${warmup}, more than the run's ${iters} iterations (\`iters\`); the warmup must end within the run`,
    );
  }
}

/** Every setting of a TrainConfig, checked (from flags, from code, or from a run's config.json). */
export const TRAIN_CONFIG_SCHEMA: Schema<TrainConfig> = object<TrainConfig>(
  Object.fromEntries(TRAIN_GROUPS.map((g) => [g, groupSchema(g)])) as Shape<TrainConfig>,
  (c, at) =>
    crossCheck(
      (f) => {
        const row = trainFieldRow(f);
        return (c[row.group] as Record<string, unknown>)[row.key];
      },
      (f) => fieldPath(fieldPath(at, trainFieldRow(f).group), trainFieldRow(f).key),
    ),
);

/** Flat settings, checked (version-1 files, the parts of a trace's shared settings). */
export const FLAT_TRAIN_CONFIG_SCHEMA: Schema<FlatTrainConfig> = object<FlatTrainConfig>(FLAT_TRAIN_CONFIG_SHAPE, (c, at) =>
  crossCheck(
    (f) => c[f],
    (f) => fieldPath(at, f),
  ),
);

/** Checks every setting (configs also come from code and files); returns a clean copy. */
export function validateTrainConfig(c: TrainConfig, file?: string): TrainConfig {
  return parse(TRAIN_CONFIG_SCHEMA, c, file !== undefined ? { file } : {});
}

/** Checks the settings present in `c`, by flat name (e.g. the flags typed, before the rest of a config is known). */
export function validateTrainFields(c: Partial<Record<TrainField, unknown>>): void {
  for (const [name, value] of Object.entries(c)) {
    if (value !== undefined && name in FLAT_TRAIN_CONFIG_SHAPE) trainFieldRow(name as TrainField).schema(value, name);
  }
}

/**
 * The `training` settings of a run's config.json, checked, as a TrainConfig. Version 1 (flat;
 * fields added since take their `legacy` value) is migrated; `version` is the file's
 * formatVersion. `field` and `file` are named in errors.
 */
export function readTrainConfig(value: unknown, version: number, where: { file?: string; field?: string } = {}): TrainConfig {
  if (version < 2 || (isPlainObject(value) && !TRAIN_GROUPS.some((g) => isPlainObject(value[g])))) {
    const flat = parse(FLAT_TRAIN_CONFIG_SCHEMA, value, where);
    return parse(TRAIN_CONFIG_SCHEMA, nestSettings(flat), where);
  }
  return parse(TRAIN_CONFIG_SCHEMA, value, where);
}
