/**
 * The one table of a training run's settings. Each row is one setting: its group in the
 * nested TrainConfig (`model`, `data`, `optim`, `schedule`, `run`, as mmsegmentation's config
 * sections), its key there, its flag, help text, value rule, default, what a resume does with
 * it, and whether it goes into the model config saved with checkpoints. The TrainConfig type,
 * its schema, its defaults, the `seg train`/`seg trace` flags, the flag names in errors and
 * the keys of `--config` files are all made from this table: a new setting is one row.
 *
 * Every row also has a flat name: its flag's camelCase name (`--val-split` -> `valSplit`),
 * unique across groups. Flat names are what flags, `--config` files with top-level keys,
 * resume plans and version-1 config.json files use.
 */
import { SegError } from '../core/errors.js';
import { boolean, integer, number, oneOf, optional, string, type Schema } from '../core/schema.js';
import type { BackboneName, OutputStride } from '../backbones/backbone.js';
import { backboneHelp, backboneNames, outputStrides } from '../backbones/registry.js';
import { WIDTH_RANGE } from '../backbones/width.js';
import { DEFAULT_DECODER, decoderHelp, decoderNames } from '../decoders/registry.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import { AUTO_LAYOUT, datasetLayoutNames } from '../datasets/open-dataset.js';
import { DEFAULT_WARMUP_RATIO } from './lr-schedule.js';

export const TRAIN_GROUPS = ['model', 'data', 'optim', 'schedule', 'run'] as const;
export type TrainGroup = (typeof TRAIN_GROUPS)[number];

/**
 * What a resumed run does with a given value: `refused` (another model is another run),
 * `kept` (it shapes the batches and updates: the run keeps its own, exact resume) or
 * `applied` (takes effect from now on).
 */
export type ResumeRule = 'refused' | 'kept' | 'applied';

export interface FieldRow<G extends TrainGroup = TrainGroup, K extends string = string, T = unknown> {
  group: G;
  /** The key inside its group (`config.data.root`). */
  key: K;
  /** Commander's flag text: `--val-split <name>`, or `--photometric` for a switch. */
  flag: string;
  description: string;
  /** The value's rule, for flags, code and files alike. */
  schema: Schema<T>;
  /** The default (flags, code); absent: none (required, or optional without a value). */
  default?: NoInfer<T>;
  /** The value a version-1 config.json lacking the field means (runs saved before it existed). */
  legacy?: NoInfer<T>;
  /** Flag text to a value (numbers); absent: the text itself, or true for a switch. */
  parse?: (text: string, flag: string) => NoInfer<T>;
  /** Allowed flag texts (commander choices), read when the options are built. */
  choices?: () => readonly string[];
  resume: ResumeRule;
  /** The value's part of the ModelConfig saved with checkpoints (model group only); absent: not saved there. */
  modelConfig?: (value: NoInfer<T>) => Partial<ModelConfig>;
  /** False: each command declares the flag itself (`--head`, `--out` differ between train and trace). */
  sharedFlag?: false;
}

/** A row, with its group, key and value type kept literal for the derived types. */
function field<const G extends TrainGroup, const K extends string, T>(row: FieldRow<G, K, T>): FieldRow<G, K, T> {
  return row;
}

/** Flag text to a finite number; ranges are the schema's. */
export function numberText(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new SegError(`${flag}: got '${text}', expected a number`, flag);
  return n;
}

export function integerText(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n)) throw new SegError(`${flag}: got '${text}', expected an integer`, flag);
  return n;
}

/** One of the values a function lists when checked (a registry may grow after this module loads). */
export function oneOfNow<const T extends string | number>(values: () => readonly T[]): Schema<T> {
  return (v, at) => oneOf(values())(v, at);
}

export const SAVE_BEST_METRICS = ['mIoU', 'aAcc', 'mAcc', 'fwIoU'] as const;
export type SaveBestMetric = (typeof SAVE_BEST_METRICS)[number];

/** The table, keyed by flat name, in help order. */
export const TRAIN_FIELDS = {
  head: field({
    group: 'model',
    key: 'head',
    flag: '--head <spec>',
    description: "output head: softmax | egb | linear, or a full spec such as 'egb:pow3' or 'egb:exp:alpha=0.3'",
    schema: string({ nonEmpty: true }),
    default: 'softmax',
    resume: 'refused',
    sharedFlag: false,
  }),
  backbone: field({
    group: 'model',
    key: 'backbone',
    flag: '--backbone <name>',
    description: `backbone (${backboneHelp()})`,
    schema: oneOfNow<BackboneName>(backboneNames),
    choices: backboneNames,
    default: 'resnet101',
    resume: 'refused',
    modelConfig: (backbone) => ({ backbone }),
  }),
  outputStride: field({
    group: 'model',
    key: 'outputStride',
    flag: '--output-stride <n>',
    description: 'backbone output stride',
    schema: oneOfNow<OutputStride>(outputStrides),
    choices: () => outputStrides().map(String),
    parse: (text, flag) => oneOf(outputStrides())(Number(text), flag),
    default: 16,
    resume: 'refused',
    modelConfig: (outputStride) => ({ outputStride }),
  }),
  width: field({
    group: 'model',
    key: 'width',
    flag: '--width <w>',
    description: 'channel width multiplier (small experiments on CPU)',
    schema: number({ min: WIDTH_RANGE[0], max: WIDTH_RANGE[1] }),
    parse: numberText,
    default: 1,
    resume: 'refused',
    modelConfig: (width) => ({ width }),
  }),
  multiGrid: field({
    group: 'model',
    key: 'multiGrid',
    flag: '--multi-grid',
    description: 'multi-grid (1,2,4) dilations in layer4',
    schema: boolean(),
    default: false,
    resume: 'refused',
    modelConfig: (multiGrid) => ({ multiGrid }),
  }),
  decoder: field({
    group: 'model',
    key: 'decoder',
    flag: '--decoder <name>',
    description: `decoder (${decoderHelp()})`,
    // Absent (runs saved before decoders existed, version 1 or 2): ASPP.
    schema: (v, at) => (v === undefined ? DEFAULT_DECODER : oneOfNow<string>(decoderNames)(v, at)),
    choices: decoderNames,
    default: DEFAULT_DECODER,
    // Runs saved before decoders existed trained ASPP.
    legacy: DEFAULT_DECODER,
    resume: 'refused',
    // A model config names a decoder only when it is not aspp (see segmentation/deeplab-spec.ts).
    modelConfig: (decoder) => (decoder !== DEFAULT_DECODER ? { decoder } : {}),
  }),
  auxLoss: field({
    group: 'model',
    key: 'auxLoss',
    flag: '--aux-loss <w>',
    description:
      "train torchvision's aux classifier (FCNHead on layer3, same head) with this loss weight; torchvision uses 0.5 (default: none)",
    // 0 is no aux classifier, stored as absent (so resumes compare 0 and absent as equal).
    schema: (v, at) => {
      const w = optional(number({ min: 0 }))(v, at);
      return w === 0 ? undefined : w;
    },
    parse: numberText,
    resume: 'refused',
    modelConfig: (w) => (w !== undefined && w > 0 ? { auxClassifier: true } : {}),
  }),
  pretrained: field({
    group: 'model',
    key: 'pretrained',
    flag: '--pretrained <file|name>',
    description:
      'ImageNet ResNet weights for the backbone: a torchvision .pth or a .safetensors file (torchvision/timm names), ' +
      'or a name downloaded once into the cache (torchvision:resnet101, timm:resnet101.a1h_in1k; see seg weights list)',
    schema: optional(string({ nonEmpty: true })),
    resume: 'kept',
  }),
  data: field({
    group: 'data',
    key: 'root',
    flag: '--data <dir>',
    description: 'dataset root in VOC layout (e.g. made by `seg data synth`)',
    schema: string({ nonEmpty: true }),
    resume: 'applied',
  }),
  split: field({
    group: 'data',
    key: 'split',
    flag: '--split <name>',
    description: 'training split (ImageSets/Segmentation/<name>.txt)',
    schema: string({ nonEmpty: true }),
    default: 'train',
    resume: 'kept',
  }),
  valSplit: field({
    group: 'data',
    key: 'valSplit',
    flag: '--val-split <name>',
    description: 'validation split',
    schema: string({ nonEmpty: true }),
    default: 'val',
    resume: 'applied',
  }),
  crop: field({
    group: 'data',
    key: 'crop',
    flag: '--crop <px>',
    description: 'square training crop',
    schema: integer({ min: 8 }),
    parse: integerText,
    default: 513,
    resume: 'kept',
  }),
  batch: field({
    group: 'data',
    key: 'batch',
    flag: '--batch <n>',
    description: 'images per batch',
    schema: integer({ min: 1 }),
    parse: integerText,
    default: 8,
    resume: 'kept',
  }),
  layout: field({
    group: 'data',
    key: 'layout',
    flag: '--layout <name>',
    description: 'dataset layout of --data (auto: detect it)',
    schema: oneOfNow<string>(() => [AUTO_LAYOUT, ...datasetLayoutNames()]),
    choices: () => [AUTO_LAYOUT, ...datasetLayoutNames()],
    default: AUTO_LAYOUT,
    legacy: AUTO_LAYOUT,
    resume: 'applied',
  }),
  photometric: field({
    group: 'data',
    key: 'photometric',
    flag: '--photometric',
    description: "mmseg's PhotoMetricDistortion after crop and flip: random brightness, contrast, saturation, hue",
    schema: boolean(),
    default: false,
    legacy: false,
    resume: 'kept',
  }),
  evalLimit: field({
    group: 'data',
    key: 'evalLimit',
    flag: '--eval-limit <n>',
    description: 'evaluate on the first N val images only (0: all)',
    schema: integer({ min: 0 }),
    parse: integerText,
    default: 0,
    resume: 'applied',
  }),
  lr: field({
    group: 'optim',
    key: 'lr',
    flag: '--lr <lr>',
    description: 'base learning rate (poly schedule)',
    schema: number({ above: 0 }),
    parse: numberText,
    default: 0.007,
    resume: 'kept',
  }),
  momentum: field({
    group: 'optim',
    key: 'momentum',
    flag: '--momentum <m>',
    description: 'SGD momentum',
    schema: number({ min: 0, max: 1 }),
    parse: numberText,
    default: 0.9,
    resume: 'kept',
  }),
  weightDecay: field({
    group: 'optim',
    key: 'weightDecay',
    flag: '--weight-decay <wd>',
    description: 'L2 weight decay',
    schema: number({ min: 0 }),
    parse: numberText,
    default: 1e-4,
    resume: 'kept',
  }),
  clipGradNorm: field({
    group: 'optim',
    key: 'clipGradNorm',
    flag: '--clip-grad-norm <n>',
    description: 'clip the gradients to this global L2 norm before each update (default: no clipping)',
    schema: optional(number({ above: 0 })),
    parse: numberText,
    resume: 'kept',
  }),
  freezeBn: field({
    group: 'optim',
    key: 'freezeBn',
    flag: '--freeze-bn',
    description: 'keep batch-norm running statistics in training (small batches)',
    schema: boolean(),
    default: false,
    resume: 'kept',
  }),
  iters: field({
    group: 'schedule',
    key: 'iters',
    flag: '--iters <n>',
    description: 'training iterations',
    schema: integer({ min: 1 }),
    parse: integerText,
    default: 30000,
    resume: 'applied',
  }),
  polyPower: field({
    group: 'schedule',
    key: 'polyPower',
    flag: '--poly-power <p>',
    description: 'poly learning-rate power',
    schema: number({ min: 0 }),
    parse: numberText,
    default: 0.9,
    resume: 'kept',
  }),
  warmupIters: field({
    group: 'schedule',
    key: 'warmupIters',
    flag: '--warmup-iters <n>',
    description: 'linear learning-rate warmup over the first N iterations (mmengine LinearLR), then poly over the rest (0: none)',
    schema: integer({ min: 0 }),
    parse: integerText,
    default: 0,
    legacy: 0,
    resume: 'kept',
  }),
  warmupRatio: field({
    group: 'schedule',
    key: 'warmupRatio',
    flag: '--warmup-ratio <r>',
    description: "the warmup's first learning-rate factor (LinearLR start_factor), rising linearly to 1",
    schema: number({ min: 0, max: 1 }),
    parse: numberText,
    default: DEFAULT_WARMUP_RATIO,
    legacy: DEFAULT_WARMUP_RATIO,
    resume: 'kept',
  }),
  evalEvery: field({
    group: 'schedule',
    key: 'evalEvery',
    flag: '--eval-every <n>',
    description: 'evaluate val mIoU every N iterations (0: only at the end)',
    schema: integer({ min: 0 }),
    parse: integerText,
    default: 0,
    resume: 'applied',
  }),
  saveEvery: field({
    group: 'schedule',
    key: 'saveEvery',
    flag: '--save-every <n>',
    description: 'checkpoint every N iterations (0: only at the end)',
    schema: integer({ min: 0 }),
    parse: integerText,
    default: 1000,
    resume: 'applied',
  }),
  logEvery: field({
    group: 'schedule',
    key: 'logEvery',
    flag: '--log-every <n>',
    description: 'trace row every N iterations',
    schema: integer({ min: 1 }),
    parse: integerText,
    default: 10,
    resume: 'applied',
  }),
  saveBest: field({
    group: 'schedule',
    key: 'saveBest',
    flag: '--save-best <metric>',
    description: 'keep the checkpoint of the best evaluation by this val metric in <out>/best/ (seg eval --checkpoint <out> --best)',
    schema: optional(oneOf(SAVE_BEST_METRICS)),
    choices: () => SAVE_BEST_METRICS,
    resume: 'applied',
  }),
  out: field({
    group: 'run',
    key: 'out',
    flag: '--out <dir>',
    description: 'run folder (checkpoint, trace.jsonl)',
    schema: string({ nonEmpty: true }),
    resume: 'applied',
    sharedFlag: false,
  }),
  seed: field({
    group: 'run',
    key: 'seed',
    flag: '--seed <k>',
    description: 'seed of every random choice (init, data order, augmentation)',
    schema: integer({ min: 0, max: 2 ** 32 - 1 }),
    parse: integerText,
    default: 0,
    resume: 'kept',
  }),
  tensorboard: field({
    group: 'run',
    key: 'tensorboard',
    flag: '--tensorboard <dir>',
    description: 'also write TensorBoard event files (loss, lr, mIoU, aAcc, per-class IoU) into this folder',
    schema: optional(string({ nonEmpty: true })),
    resume: 'applied',
  }),
};

type Fields = typeof TRAIN_FIELDS;
/** A setting's flat name (its flag's camelCase name): `valSplit`, `data`. */
export type TrainField = keyof Fields;
type ValueOf<F extends TrainField> = Fields[F] extends FieldRow<TrainGroup, string, infer T> ? T : never;
type InGroup<G extends TrainGroup> = { [F in TrainField]: Fields[F]['group'] extends G ? F : never }[TrainField];
type Optional<F extends TrainField> = F extends TrainField ? (undefined extends ValueOf<F> ? F : never) : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

type GroupConfig<G extends TrainGroup> = Simplify<
  { [F in Exclude<InGroup<G>, Optional<InGroup<G>>> as Fields[F]['key']]: ValueOf<F> } & {
    [F in Optional<InGroup<G>> as Fields[F]['key']]?: Exclude<ValueOf<F>, undefined>;
  }
>;

/** A run's settings, by group (what `seg train` takes, what a run's config.json holds). */
export interface TrainConfig {
  /** The network: head, backbone and its options, aux classifier, starting weights. */
  model: GroupConfig<'model'>;
  /** The dataset, its splits, and how batches are drawn from it. */
  data: GroupConfig<'data'>;
  /** The optimizer: SGD's learning rate, momentum, weight decay, gradient clipping, frozen BN. */
  optim: GroupConfig<'optim'>;
  /** Length, learning-rate schedule, and when to evaluate, save and log. */
  schedule: GroupConfig<'schedule'>;
  /** The run folder, seed and TensorBoard folder. */
  run: GroupConfig<'run'>;
}

/** The same settings under their flat names (flags, top-level `--config` keys, version-1 config.json, trace manifests). */
export type FlatTrainConfig = Simplify<
  { [F in Exclude<TrainField, Optional<TrainField>>]: ValueOf<F> } & { [F in Optional<TrainField>]?: Exclude<ValueOf<F>, undefined> }
>;

/** Every row, with its flat name, in table order. */
export function trainFieldRows(): [TrainField, FieldRow][] {
  return Object.entries(TRAIN_FIELDS) as [TrainField, FieldRow][];
}

export function trainFieldRow(name: TrainField): FieldRow {
  return TRAIN_FIELDS[name] as FieldRow;
}

/** The flat names of one group's rows. */
export function groupFields(group: TrainGroup): TrainField[] {
  return trainFieldRows()
    .filter(([, row]) => row.group === group)
    .map(([name]) => name);
}

/** The flat name of `group.key`, if a row has it. */
export function fieldAt(group: string, key: string): TrainField | undefined {
  return trainFieldRows().find(([, row]) => row.group === group && row.key === key)?.[0];
}

/** A setting's dotted path in the nested config: `data.root`. */
export function fieldPathOf(name: TrainField): string {
  const row = trainFieldRow(name);
  return `${row.group}.${row.key}`;
}

/** The flat name a path names (`data.batch`, `training.data.batch` -> `batch`), if any. */
export function fieldOfPath(path: string): TrainField | undefined {
  const parts = path.split('.');
  if (parts.length < 2) return undefined;
  return fieldAt(parts[parts.length - 2] as string, parts[parts.length - 1] as string);
}

/** The flag's long name, without its argument: `--val-split`. */
export function flagNameOf(name: TrainField): string {
  return trainFieldRow(name).flag.split(/[ ,]/)[0] as string;
}

export function fieldsWithResumeRule(rule: ResumeRule): TrainField[] {
  return trainFieldRows()
    .filter(([, row]) => row.resume === rule)
    .map(([name]) => name);
}

/** The value of a setting in a nested config. */
export function getField(config: TrainConfig, name: TrainField): unknown {
  const row = trainFieldRow(name);
  return (config[row.group] as Record<string, unknown>)[row.key];
}

/** `config` with one setting replaced (undefined: removed). */
export function setField(config: TrainConfig, name: TrainField, value: unknown): TrainConfig {
  const row = trainFieldRow(name);
  const group: Record<string, unknown> = { ...config[row.group] };
  if (value === undefined) delete group[row.key];
  else group[row.key] = value;
  return { ...config, [row.group]: group };
}

/** The defaults of every row that has one, by flat name (`data` and `out` have none). */
export const DEFAULT_TRAIN_CONFIG: Omit<FlatTrainConfig, 'data' | 'out'> = Object.fromEntries(
  trainFieldRows().flatMap(([name, row]) => (row.default !== undefined ? [[name, row.default]] : [])),
) as Omit<FlatTrainConfig, 'data' | 'out'>;

/** Flat settings into groups (no checks: values are copied as they are; undefined ones are left out). */
export function nestTrainConfig(flat: FlatTrainConfig): TrainConfig {
  return nestSettings(flat) as unknown as TrainConfig;
}

/** Any flat record of settings into groups; keys that are not settings are dropped. */
export function nestSettings(flat: Readonly<Record<string, unknown>>): Record<TrainGroup, Record<string, unknown>> {
  const out = Object.fromEntries(TRAIN_GROUPS.map((g) => [g, {}])) as Record<TrainGroup, Record<string, unknown>>;
  for (const [name, row] of trainFieldRows()) {
    const value = flat[name];
    if (value !== undefined) out[row.group][row.key] = value;
  }
  return out;
}

/**
 * A config.json's free-form `training` record under flat names, whichever its version:
 * nested groups are opened (`optim.lr` -> `lr`), flat keys kept (for readers that show or pick
 * a few settings, such as `seg report`).
 */
export function flatSettings(training: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(training)) {
    const isGroup =
      (TRAIN_GROUPS as readonly string[]).includes(key) && typeof value === 'object' && value !== null && !Array.isArray(value);
    if (!isGroup) {
      out[key] = value;
      continue;
    }
    for (const [inner, v] of Object.entries(value as Record<string, unknown>)) out[fieldAt(key, inner) ?? `${key}.${inner}`] = v;
  }
  return out;
}

/** A nested config under flat names. */
export function flattenTrainConfig(config: TrainConfig): FlatTrainConfig {
  const out: Record<string, unknown> = {};
  for (const [name] of trainFieldRows()) {
    const value = getField(config, name);
    if (value !== undefined) out[name] = value;
  }
  return out as FlatTrainConfig;
}

/** The model config a run trains (saved with its checkpoints): the model rows that belong there, and the dataset's class count. */
export function runModelConfig(model: TrainConfig['model'], numClasses: number): ModelConfig {
  let config: Partial<ModelConfig> = {};
  for (const name of groupFields('model')) {
    const row = trainFieldRow(name);
    if (row.modelConfig !== undefined) config = { ...config, ...row.modelConfig((model as Record<string, unknown>)[row.key]) };
  }
  return { ...config, numClasses } as ModelConfig;
}
