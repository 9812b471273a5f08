/**
 * ResNet-18/34/50/101 as layer specs with torchvision's parameter names, dilated to
 * output stride 16 or 8 exactly as torchvision's `replace_stride_with_dilation`:
 * the first block of a dilated stage gets stride 1 and the *previous* dilation on its
 * 3x3 conv (bottleneck) / 3x3 convs (basic), the other blocks the new dilation, and the
 * downsample shortcut becomes a 1x1 conv with stride 1.
 *
 * Beyond torchvision:
 * - basic blocks accept dilation (torchvision refuses it): both 3x3 convs use the block's
 *   dilation;
 * - multi-grid (DeepLab-v3): layer4's blocks use dilation rate * (1, 2, 4)[i], the first
 *   block included (as mmsegmentation's `multi_grid`);
 * - a width multiplier scales every channel count: round(base * width), at least 1.
 */
import { expectedOneOf } from '../core/errors.js';
import { boolean, number, object, type Schema } from '../core/schema.js';
import type { ConvSpec, BatchNormSpec, LayerSpec, SequentialSpec } from '../nn/layer-spec.js';
import type { BackboneDefinition, BackboneFeatures, BackboneOptions, OutputStride } from './backbone.js';
import { scaledChannels, validateWidth, WIDTH_RANGE } from './width.js';

/** Smallest first: memory-failure hints suggest the ones before the one asked for. */
export const RESNET_NAMES = ['resnet18', 'resnet34', 'resnet50', 'resnet101'] as const;
export type ResnetName = (typeof RESNET_NAMES)[number];

/** DeepLab-v3's multi-grid unit rates for layer4. */
export const MULTI_GRID = [1, 2, 4] as const;

interface ResnetDefinition {
  block: 'basic' | 'bottleneck';
  blocks: [number, number, number, number];
}

const DEFINITIONS: Record<ResnetName, ResnetDefinition> = {
  resnet18: { block: 'basic', blocks: [2, 2, 2, 2] },
  resnet34: { block: 'basic', blocks: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', blocks: [3, 4, 23, 3] },
};

const STAGE_PLANES = [64, 128, 256, 512] as const;
const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;

export interface ResnetOptions {
  backbone: ResnetName;
  outputStride: OutputStride;
  /** Channel multiplier, 1 = torchvision's ResNet. */
  width: number;
  /** Multi-grid (1, 2, 4) dilation in layer4. */
  multiGrid: boolean;
}

export interface ResnetSpec {
  /** The tree, named `backbone.*` (torchvision names under the given prefix). */
  spec: SequentialSpec;
  /** Channels of the last stage's output. */
  outChannels: number;
  outputStride: OutputStride;
}

export function parseResnetName(value: string, flag = '--backbone'): ResnetName {
  const name = RESNET_NAMES.find((b) => b === value);
  if (name === undefined) throw expectedOneOf(flag, value, RESNET_NAMES);
  return name;
}

function conv(name: string, inChannels: number, outChannels: number, kernel: number, stride: 1 | 2, dilation: number): ConvSpec {
  return { kind: 'conv', name, inChannels, outChannels, kernel, stride, dilation, bias: false };
}

function bn(name: string, channels: number): BatchNormSpec {
  return { kind: 'batchNorm', name, channels, eps: BN_EPS, momentum: BN_MOMENTUM };
}

interface BlockArgs {
  name: string;
  inChannels: number;
  planes: number;
  stride: 1 | 2;
  dilation: number;
  downsample: boolean;
}

function blockSpec(kind: ResnetDefinition['block'], a: BlockArgs): { spec: SequentialSpec; outChannels: number } {
  const n = a.name;
  const out = kind === 'basic' ? a.planes : a.planes * 4;
  const body: LayerSpec[] =
    kind === 'basic'
      ? [
          conv(`${n}.conv1`, a.inChannels, a.planes, 3, a.stride, a.dilation),
          bn(`${n}.bn1`, a.planes),
          { kind: 'relu' },
          conv(`${n}.conv2`, a.planes, a.planes, 3, 1, a.dilation),
          bn(`${n}.bn2`, a.planes),
        ]
      : [
          conv(`${n}.conv1`, a.inChannels, a.planes, 1, 1, 1),
          bn(`${n}.bn1`, a.planes),
          { kind: 'relu' },
          conv(`${n}.conv2`, a.planes, a.planes, 3, a.stride, a.dilation),
          bn(`${n}.bn2`, a.planes),
          { kind: 'relu' },
          conv(`${n}.conv3`, a.planes, out, 1, 1, 1),
          bn(`${n}.bn3`, out),
        ];
  const shortcut: LayerSpec[] = a.downsample
    ? [conv(`${n}.downsample.0`, a.inChannels, out, 1, a.stride, 1), bn(`${n}.downsample.1`, out)]
    : [];
  return {
    spec: { kind: 'sequential', name: n, layers: [{ kind: 'residual', name: n, body, shortcut }, { kind: 'relu' }] },
    outChannels: out,
  };
}

/** The backbone tree for the options, its leaves named `${prefix}.conv1`, `${prefix}.layer1.0.conv1`, ... */
export function resnetSpec(options: ResnetOptions, prefix = 'backbone'): ResnetSpec {
  const def = DEFINITIONS[options.backbone];
  const width = validateWidth(options.width);
  // Which of layer2, layer3, layer4 trade their stride for dilation.
  const dilate = options.outputStride === 16 ? [false, false, true] : [false, true, true];
  const stemChannels = scaledChannels(64, width);
  const stem: SequentialSpec = {
    kind: 'sequential',
    name: `${prefix}.stem`,
    stage: 'stem',
    layers: [
      conv(`${prefix}.conv1`, 3, stemChannels, 7, 2, 1),
      bn(`${prefix}.bn1`, stemChannels),
      { kind: 'relu' },
      { kind: 'maxPool', kernel: 3, stride: 2, padding: 1 },
    ],
  };
  const stages: SequentialSpec[] = [stem];
  let inChannels = stemChannels;
  let dilation = 1;
  for (let i = 0; i < 4; i++) {
    const planes = scaledChannels(STAGE_PLANES[i] as number, width);
    let stride: 1 | 2 = i === 0 ? 1 : 2;
    const previousDilation = dilation;
    if (i > 0 && dilate[i - 1] === true) {
      dilation *= stride;
      stride = 1;
    }
    const expansion = def.block === 'basic' ? 1 : 4;
    const layerName = `${prefix}.layer${i + 1}`;
    const blocks: SequentialSpec[] = [];
    const count = def.blocks[i] as number;
    for (let j = 0; j < count; j++) {
      const multiGrid = options.multiGrid && i === 3;
      const blockDilation = multiGrid ? (MULTI_GRID[j % MULTI_GRID.length] as number) * dilation : j === 0 ? previousDilation : dilation;
      const block = blockSpec(def.block, {
        name: `${layerName}.${j}`,
        inChannels,
        planes,
        stride: j === 0 ? stride : 1,
        dilation: blockDilation,
        downsample: j === 0 && (stride !== 1 || inChannels !== planes * expansion),
      });
      blocks.push(block.spec);
      inChannels = block.outChannels;
    }
    stages.push({ kind: 'sequential', name: layerName, stage: `layer${i + 1}`, layers: blocks });
  }
  return {
    spec: { kind: 'sequential', name: prefix, layers: stages },
    outChannels: inChannels,
    outputStride: options.outputStride,
  };
}

const RESNET_OPTIONS: Schema<BackboneOptions> = object<BackboneOptions>({
  name: (v, field) => parseResnetName(String(v), field),
  width: number({ min: WIDTH_RANGE[0], max: WIDTH_RANGE[1] }),
  multiGrid: boolean(),
});

/** The registry's entry: torchvision's ResNets, layer1 as the low-level features. */
export const RESNET: BackboneDefinition = {
  names: RESNET_NAMES,
  description: 'dilated ResNet (torchvision names), basic blocks for 18/34, bottlenecks for 50/101',
  options: RESNET_OPTIONS,
  spec(options: BackboneOptions, outputStride: OutputStride): BackboneFeatures {
    const backbone = parseResnetName(options.name);
    const built = resnetSpec({ backbone, outputStride, width: options.width, multiGrid: options.multiGrid });
    const expansion = DEFINITIONS[backbone].block === 'basic' ? 1 : 4;
    return {
      spec: built.spec,
      channels: built.outChannels,
      lowLevel: { name: 'backbone.layer1', channels: scaledChannels(STAGE_PLANES[0], options.width) * expansion },
    };
  },
};
