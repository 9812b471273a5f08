/** `seg info`: parameter count, FLOPs and a per-stage table of a model config, from its spec (no tensors). */
import type { Command } from 'commander';
import type { BackboneName, OutputStride } from '../backbones/backbone.js';
import { backboneHelp, parseBackboneName, parseOutputStride } from '../backbones/registry.js';
import { validateWidth } from '../backbones/width.js';
import { decoderHelp, parseDecoderName } from '../decoders/registry.js';
import { describeModel, type ModelDescription } from '../segmentation/describe-model.js';
import type { StageCost } from '../nn/layer-cost.js';
import { decoderOf, type ModelConfig } from '../segmentation/deeplab-spec.js';
import { describeModelConfig } from '../checkpoint/checkpoint-config.js';
import { parseFloatFlag, parseIntFlag } from './options.js';
import { DEFAULT_TRAIN_CONFIG } from '../training/train-config.js';

interface InfoFlags {
  backbone: BackboneName;
  outputStride: OutputStride;
  classes: number;
  width: number;
  multiGrid?: boolean;
  decoder: string;
  auxClassifier?: boolean;
  inputSize: number;
  json?: boolean;
}

/** The size `flops513` refers to: DeepLab's customary evaluation crop. */
const REFERENCE_SIZE = 513;

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

function gflops(n: number): string {
  return (n / 1e9).toFixed(2);
}

function stageRow(s: StageCost, name: string): string[] {
  return [name, String(s.outputStride), String(s.channels), `${s.height}x${s.width}`, thousands(s.params), gflops(s.flops)];
}

/** DeepLab-v3 with ASPP, DeepLabV3+ with aspp-plus, else the decoder's name. */
function modelFamily(config: ModelConfig): string {
  const decoder = decoderOf(config);
  return decoder === 'aspp' ? 'DeepLab-v3' : decoder === 'aspp-plus' ? 'DeepLabV3+' : `decoder ${decoder}:`;
}

export function formatInfoTable(d: ModelDescription): string {
  const [h, w] = d.inputSize;
  const rows = [
    ['stage', 'stride', 'channels', 'output', 'params', 'GFLOPs'],
    ...d.stages.map((s) => stageRow(s, s.name)),
    ...(d.aux !== undefined ? [stageRow(d.aux, `${d.aux.name}*`)] : []),
    ['total', '', '', '', thousands(d.params), gflops(d.flops)],
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  return [
    `${modelFamily(d.config)} ${describeModelConfig(d.config)}`,
    `parameters: ${thousands(d.params)} trainable (+ ${thousands(d.buffers)} BN running statistics)`,
    `FLOPs at ${h}x${w}: ${gflops(d.flops)} G (2 x conv multiply-adds; BN, ReLU, pooling, adds and resizing not counted)`,
    ...(d.aux !== undefined
      ? [
          `aux classifier: ${thousands(d.aux.params)} parameters (in the total), ${gflops(d.aux.flops)} GFLOPs in training only (aux* below; not in the FLOPs total)`,
        ]
      : []),
    '',
    line(rows[0] ?? []),
    ...rows.slice(1).map(line),
  ].join('\n');
}

export function infoJson(d: ModelDescription, reference: ModelDescription): Record<string, unknown> {
  return {
    config: d.config,
    params: d.params,
    buffers: d.buffers,
    flops513: reference.flops,
    inputSize: d.inputSize,
    flops: d.flops,
    stages: d.stages.map(stageJson),
    ...(d.aux !== undefined ? { aux: { ...stageJson(d.aux), trainingOnly: true }, auxFlops513: reference.aux?.flops ?? null } : {}),
  };
}

function stageJson(s: StageCost): Record<string, unknown> {
  return {
    name: s.name,
    outputStride: s.outputStride,
    channels: s.channels,
    outputSize: [s.height, s.width],
    params: s.params,
    flops: s.flops,
  };
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('parameter count, FLOPs of one forward pass and a per-stage table of a DeepLab-v3 / V3+ model')
    .option('--backbone <name>', backboneHelp(), (v: string) => parseBackboneName(v), DEFAULT_TRAIN_CONFIG.backbone)
    .option('--output-stride <n>', '8 or 16', (v: string) => parseOutputStride(v), 16 as OutputStride)
    .option('--decoder <name>', decoderHelp(), (v: string) => parseDecoderName(v), DEFAULT_TRAIN_CONFIG.decoder)
    .option('--classes <k>', 'number of classes', parseIntFlag('--classes', 1, 65536), 21)
    .option('--width <w>', 'channel width multiplier (1 = torchvision)', (v: string) => validateWidth(parseFloatFlag('--width')(v)), 1)
    .option('--multi-grid', 'multi-grid (1, 2, 4) dilation in layer4')
    .option('--aux-classifier', "with torchvision's aux classifier (FCNHead on layer3, trained with --aux-loss; not run in inference)")
    .option('--input-size <px>', 'image side for the FLOPs and the table', parseIntFlag('--input-size', 1, 16384), REFERENCE_SIZE)
    .option('--json', 'print JSON (params, flops513, per-stage figures; aux apart)')
    .action((flags: InfoFlags) => {
      const config: ModelConfig = {
        backbone: flags.backbone,
        outputStride: flags.outputStride,
        width: flags.width,
        numClasses: flags.classes,
        multiGrid: flags.multiGrid === true,
        ...(flags.auxClassifier === true ? { auxClassifier: true as const } : {}),
        ...(flags.decoder !== DEFAULT_TRAIN_CONFIG.decoder ? { decoder: flags.decoder } : {}),
      };
      const d = describeModel(config, flags.inputSize);
      if (flags.json === true) {
        const reference = flags.inputSize === REFERENCE_SIZE ? d : describeModel(config, REFERENCE_SIZE);
        process.stdout.write(`${JSON.stringify(infoJson(d, reference), null, 2)}\n`);
      } else {
        process.stdout.write(`${formatInfoTable(d)}\n`);
      }
    });
}
