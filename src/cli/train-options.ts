/** The training flags, shared by `seg train` and `seg trace`, and their conversion to a TrainConfig. */
import { type Command, Option } from 'commander';
import type { OutputStride } from '../backbones/backbone.js';
import { backboneHelp, backboneNames, outputStrides } from '../backbones/registry.js';
import { decoderHelp, decoderNames } from '../decoders/registry.js';
import { SegError } from '../core/errors.js';
import { BOOST_KINDS, egbHeadSpec, formatHeadSpec, type BoostKind } from '../heads/head-spec.js';
import { DEFAULT_TRAIN_CONFIG, SAVE_BEST_METRICS, type SaveBestMetric, type TrainConfig } from '../training/train-config.js';
import type { TrainField } from '../training/resume-plan.js';
import { parseFloatFlag } from './options.js';
import { applyConfigFile, isGiven } from './config-file.js';

/**
 * Flag text to a number; the ranges are checked once, by the training config's schema
 * (TRAIN_CONFIG_SHAPE), for flags and files alike.
 */
function numberFlag(flag: string, integer = false): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new SegError(`${flag}: got '${value}', expected ${integer ? 'an integer' : 'a number'}`, flag);
    }
    return n;
  };
}

function integerFlag(flag: string): (value: string) => number {
  return numberFlag(flag, true);
}

export interface TrainingFlags {
  data?: string;
  boost?: string;
  egbAlpha?: number;
  egbBeta?: number;
  backbone: string;
  outputStride: string;
  width: number;
  multiGrid?: boolean;
  decoder: string;
  crop: number;
  batch: number;
  iters: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  polyPower: number;
  warmupIters: number;
  warmupRatio: number;
  photometric?: boolean;
  clipGradNorm?: number;
  auxLoss?: number;
  split: string;
  valSplit: string;
  evalEvery: number;
  evalLimit: number;
  saveEvery: number;
  logEvery: number;
  seed: number;
  pretrained?: string;
  freezeBn?: boolean;
  saveBest?: string;
  tensorboard?: string;
  backend?: string;
}

/** Every training flag except --head, --out and --resume (which differ between train and trace). */
export function addTrainingOptions(cmd: Command, options: { dataHelp?: string } = {}): Command {
  const d = DEFAULT_TRAIN_CONFIG;
  const withData =
    options.dataHelp === undefined
      ? cmd.requiredOption('--data <dir>', 'dataset root in VOC layout (e.g. made by `seg data synth`)')
      : cmd.option('--data <dir>', options.dataHelp);
  return withData
    .addOption(new Option('--boost <kind>', 'egb boost function').choices([...BOOST_KINDS]))
    .option('--egb-alpha <a>', 'egb: y = alpha * boost(z) + beta (default exp 1/K, pow3 0.001)', parseFloatFlag('--egb-alpha', 0))
    .option('--egb-beta <b>', 'egb: beta (default 0)', parseFloatFlag('--egb-beta'))
    .addOption(new Option('--backbone <name>', `backbone (${backboneHelp()})`).choices(backboneNames()).default(d.backbone))
    .addOption(
      new Option('--output-stride <n>', 'backbone output stride').choices(outputStrides().map(String)).default(String(d.outputStride)),
    )
    .addOption(new Option('--decoder <name>', `decoder (${decoderHelp()})`).choices(decoderNames()).default(d.decoder))
    .option('--width <w>', 'channel width multiplier (small experiments on CPU)', numberFlag('--width'), d.width)
    .option('--multi-grid', 'multi-grid (1,2,4) dilations in layer4')
    .option('--crop <px>', 'square training crop', integerFlag('--crop'), d.crop)
    .option('--batch <n>', 'images per batch', integerFlag('--batch'), d.batch)
    .option('--iters <n>', 'training iterations', integerFlag('--iters'), d.iters)
    .option('--lr <lr>', 'base learning rate (poly schedule)', numberFlag('--lr'), d.lr)
    .option('--momentum <m>', 'SGD momentum', numberFlag('--momentum'), d.momentum)
    .option('--weight-decay <wd>', 'L2 weight decay', numberFlag('--weight-decay'), d.weightDecay)
    .option('--poly-power <p>', 'poly learning-rate power', numberFlag('--poly-power'), d.polyPower)
    .option(
      '--warmup-iters <n>',
      'linear learning-rate warmup over the first N iterations (mmengine LinearLR), then poly over the rest (0: none)',
      integerFlag('--warmup-iters'),
      d.warmupIters,
    )
    .option(
      '--warmup-ratio <r>',
      "the warmup's first learning-rate factor (LinearLR start_factor), rising linearly to 1",
      numberFlag('--warmup-ratio'),
      d.warmupRatio,
    )
    .option('--photometric', "mmseg's PhotoMetricDistortion after crop and flip: random brightness, contrast, saturation, hue")
    .option(
      '--clip-grad-norm <n>',
      'clip the gradients to this global L2 norm before each update (default: no clipping)',
      numberFlag('--clip-grad-norm'),
    )
    .option(
      '--aux-loss <w>',
      "train torchvision's aux classifier (FCNHead on layer3, same head) with this loss weight; torchvision uses 0.5 (default: none)",
      numberFlag('--aux-loss'),
    )
    .option('--split <name>', 'training split (ImageSets/Segmentation/<name>.txt)', d.split)
    .option('--val-split <name>', 'validation split', d.valSplit)
    .option('--eval-every <n>', 'evaluate val mIoU every N iterations (0: only at the end)', integerFlag('--eval-every'), d.evalEvery)
    .option('--eval-limit <n>', 'evaluate on the first N val images only (0: all)', integerFlag('--eval-limit'), d.evalLimit)
    .option('--save-every <n>', 'checkpoint every N iterations (0: only at the end)', integerFlag('--save-every'), d.saveEvery)
    .option('--log-every <n>', 'trace row every N iterations', integerFlag('--log-every'), d.logEvery)
    .option('--seed <k>', 'seed of every random choice (init, data order, augmentation)', integerFlag('--seed'), d.seed)
    .option(
      '--pretrained <file|name>',
      'ImageNet ResNet weights for the backbone: a torchvision .pth or a .safetensors file (torchvision/timm names), ' +
        'or a name downloaded once into the cache (torchvision:resnet101, timm:resnet101.a1h_in1k; see seg weights list)',
    )
    .option('--freeze-bn', 'keep batch-norm running statistics in training (small batches)')
    .addOption(
      new Option(
        '--save-best <metric>',
        'keep the checkpoint of the best evaluation by this val metric in <out>/best/ (seg eval --checkpoint <out> --best)',
      ).choices([...SAVE_BEST_METRICS]),
    )
    .option('--tensorboard <dir>', 'also write TensorBoard event files (loss, lr, mIoU, aAcc, per-class IoU) into this folder');
}

/** The head spec text from --head plus the egb flags (which only apply to egb). */
export function headTextFromFlags(head: string, flags: Pick<TrainingFlags, 'boost' | 'egbAlpha' | 'egbBeta'>, numClasses: number): string {
  const egbFlags = flags.boost !== undefined || flags.egbAlpha !== undefined || flags.egbBeta !== undefined;
  if (!egbFlags) return head;
  if (head !== 'egb') {
    throw new SegError(
      `--boost/--egb-alpha/--egb-beta apply to --head egb only (got --head ${head}); or write the parameters into the head, e.g. egb:pow3:alpha=0.01`,
      '--head',
    );
  }
  const params: { alpha?: number; beta?: number } = {};
  if (flags.egbAlpha !== undefined) params.alpha = flags.egbAlpha;
  if (flags.egbBeta !== undefined) params.beta = flags.egbBeta;
  return formatHeadSpec(egbHeadSpec(numClasses, (flags.boost ?? 'exp') as BoostKind, params, '--head'));
}

/** Every training argument but the per-run ones (head, seed, out): what `seg trace` shares across runs. */
export function sharedTrainConfigFromFlags(flags: TrainingFlags): Omit<TrainConfig, 'head' | 'seed' | 'out'> {
  return {
    data: flags.data ?? '',
    split: flags.split,
    valSplit: flags.valSplit,
    backbone: flags.backbone,
    outputStride: Number(flags.outputStride) as OutputStride,
    width: flags.width,
    multiGrid: flags.multiGrid === true,
    decoder: flags.decoder,
    crop: flags.crop,
    batch: flags.batch,
    iters: flags.iters,
    lr: flags.lr,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay,
    polyPower: flags.polyPower,
    warmupIters: flags.warmupIters,
    warmupRatio: flags.warmupRatio,
    photometric: flags.photometric === true,
    ...(flags.clipGradNorm !== undefined ? { clipGradNorm: flags.clipGradNorm } : {}),
    // --aux-loss 0 is no aux classifier, which configs store as no auxLoss.
    ...(flags.auxLoss !== undefined && flags.auxLoss !== 0 ? { auxLoss: flags.auxLoss } : {}),
    evalEvery: flags.evalEvery,
    evalLimit: flags.evalLimit,
    saveEvery: flags.saveEvery,
    logEvery: flags.logEvery,
    ...(flags.pretrained !== undefined ? { pretrained: flags.pretrained } : {}),
    freezeBn: flags.freezeBn === true,
    ...(flags.saveBest !== undefined ? { saveBest: flags.saveBest as SaveBestMetric } : {}),
    ...(flags.tensorboard !== undefined ? { tensorboard: flags.tensorboard } : {}),
  };
}

export function trainConfigFromFlags(flags: TrainingFlags, head: string, out: string): TrainConfig {
  return { ...sharedTrainConfigFromFlags(flags), head, seed: flags.seed, out };
}

const CONFIG_FIELDS: readonly TrainField[] = [
  'data',
  'split',
  'valSplit',
  'head',
  'backbone',
  'outputStride',
  'width',
  'multiGrid',
  'decoder',
  'crop',
  'batch',
  'iters',
  'lr',
  'momentum',
  'weightDecay',
  'polyPower',
  'warmupIters',
  'warmupRatio',
  'photometric',
  'clipGradNorm',
  'auxLoss',
  'evalEvery',
  'evalLimit',
  'saveEvery',
  'logEvery',
  'out',
  'seed',
  'pretrained',
  'freezeBn',
  'saveBest',
  'tensorboard',
];

/** The config fields whose flags were typed or set by --config (the egb flags count as `head`). */
export function typedFields(cmd: Command): TrainField[] {
  const typed = (name: string): boolean => isGiven(cmd, name);
  const fields = CONFIG_FIELDS.filter(typed);
  if (!fields.includes('head') && ['boost', 'egbAlpha', 'egbBeta'].some(typed)) fields.push('head');
  return fields;
}

/**
 * `--config FILE` and `--print-config` on a training command: the file's settings are
 * applied before the action runs (typed flags win), so the action sees one set of options.
 */
export function addConfigOptions(cmd: Command, translate?: (settings: Record<string, unknown>) => Record<string, unknown>): Command {
  cmd
    .option('--config <file>', 'settings from a JSON or YAML file (option names in camelCase, e.g. {"crop": 321}); flags override it')
    .option('--print-config', 'print the resolved settings as JSON (a file --config reads back) and exit');
  cmd.hook('preAction', (command) => {
    const file = command.opts()['config'] as string | undefined;
    if (file === undefined) return;
    applyConfigFile(command, file, { exclude: ['config', 'printConfig', 'resume'], ...(translate !== undefined ? { translate } : {}) });
  });
  return cmd;
}
