/**
 * DeepLab-v3 as a layer-spec tree: a dilated ResNet, ASPP and the classifier, with exactly
 * the modules and parameter names of torchvision's `deeplabv3_resnet50/101(num_classes=K,
 * aux_loss=False)`, or `aux_loss=True` with `auxClassifier`:
 *
 *   classifier.0            ASPP
 *     convs.0.{0,1}         1x1 conv + BN (+ ReLU)
 *     convs.{1,2,3}.{0,1}   3x3 atrous conv (rates 6/12/18 at output stride 16, 12/24/36 at 8) + BN
 *     convs.4.{1,2}         image pooling: global average pool, 1x1 conv, BN, ReLU, upsample
 *     project.{0,1}         1x1 conv (5 x 256 -> 256) + BN + ReLU + dropout 0.5
 *   classifier.1, .2        3x3 conv 256 + BN (+ ReLU as .3)
 *   classifier.4            1x1 conv to K classes, with bias
 *
 * then bilinear upsampling of the logits to the input size. At width w the 256 becomes
 * round(256 w).
 *
 * With `auxClassifier`, torchvision's FCNHead on layer3's output is a second tree (`aux`),
 * run in training only (its loss is weighted by `--aux-loss`, see training/train-step.ts):
 *
 *   aux_classifier.0, .1    3x3 conv C -> C/4 (C = layer3's channels: 1024 for ResNet-50/101) + BN (+ ReLU)
 *                           (+ dropout 0.1 as .3)
 *   aux_classifier.4        1x1 conv to K classes, with bias
 *
 * then bilinear upsampling to the input size. Inference and export run `root` only. Dropout runs only when the forward pass is given a dropout Rng (see
 * ForwardOptions), so by default training is deterministic without it.
 */
import { type BatchNormSpec, type ConvSpec, type LayerSpec, type SequentialSpec, weightSpecs } from '../nn/layer-spec.js';
import { boolean, integer, number, object, oneOf, parse, type Schema } from '../core/schema.js';
import {
  BACKBONE_NAMES,
  OUTPUT_STRIDES,
  WIDTH_RANGE,
  type BackboneName,
  type OutputStride,
  resnetSpec,
  scaledChannels,
} from '../backbones/resnet.js';

/** Std of the final classifier's normal init (mmsegmentation's decode-head default). */
export const CLASSIFIER_INIT_STD = 0.01;

export interface ModelConfig {
  backbone: BackboneName;
  outputStride: OutputStride;
  /** Channel multiplier (1 = torchvision's model). */
  width: number;
  numClasses: number;
  /** Multi-grid (1, 2, 4) dilation in layer4. */
  multiGrid: boolean;
  /**
   * torchvision's aux classifier (an FCNHead on layer3, trained with `--aux-loss`); absent
   * means none (configs never hold `false`, so older files and objects stay equal).
   */
  auxClassifier?: true;
}

/** The spec's name of the stage the aux classifier reads (torchvision's `aux` return layer). */
export const AUX_SOURCE = 'backbone.layer3';

/** Rate of the aux classifier's dropout (torchvision's FCNHead: 0.1). */
const AUX_DROPOUT = 0.1;

/** ASPP atrous rates for an output stride. */
export function asppRates(outputStride: OutputStride): [number, number, number] {
  return outputStride === 16 ? [6, 12, 18] : [12, 24, 36];
}

/** Every field of a model config (read from files or built by hand). */
export const MODEL_CONFIG_SCHEMA: Schema<ModelConfig> = object<ModelConfig>({
  backbone: oneOf(BACKBONE_NAMES),
  outputStride: oneOf(OUTPUT_STRIDES),
  width: number({ min: WIDTH_RANGE[0], max: WIDTH_RANGE[1] }),
  numClasses: integer({ min: 1, max: 255 }),
  multiGrid: boolean(),
  // `false` is left out (undefined results are dropped), so a config holds `true` or nothing.
  auxClassifier: (v, field) => (v === undefined || boolean()(v, field) === false ? undefined : true),
});

/** Checks every field; returns a clean copy. */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  return parse(MODEL_CONFIG_SCHEMA, config);
}

function conv(name: string, inChannels: number, outChannels: number, kernel: number, dilation = 1, bias = false): ConvSpec {
  return { kind: 'conv', name, inChannels, outChannels, kernel, stride: 1, dilation, bias };
}

function bn(name: string, channels: number): BatchNormSpec {
  return { kind: 'batchNorm', name, channels, eps: 1e-5, momentum: 0.1 };
}

export interface DeeplabSpec {
  /** The whole model: backbone, aspp, decoder, upsample. */
  root: SequentialSpec;
  /** The `backbone.*` subtree (pretrained import targets it). */
  backbone: SequentialSpec;
  /** The aux classifier (FCNHead + upsample) run on the output of `AUX_SOURCE`, with `auxClassifier`. */
  aux?: SequentialSpec;
}

/** torchvision's FCNHead(C, K) on layer3's C channels, then the upsample to the input size. */
function auxSpec(inChannels: number, numClasses: number): SequentialSpec {
  const inter = Math.max(1, Math.floor(inChannels / 4));
  return {
    kind: 'sequential',
    name: 'aux_classifier',
    stage: 'aux',
    layers: [
      conv('aux_classifier.0', inChannels, inter, 3),
      bn('aux_classifier.1', inter),
      { kind: 'relu' },
      { kind: 'dropout', rate: AUX_DROPOUT },
      { ...conv('aux_classifier.4', inter, numClasses, 1, 1, true), initStd: CLASSIFIER_INIT_STD },
      { kind: 'resize', to: 'image' },
    ],
  };
}

/** Channels of a stage's output (the last conv or BN in it). */
function outChannelsOf(spec: SequentialSpec): number {
  const last = weightSpecs(spec).at(-1);
  if (last === undefined || last.layer.kind !== 'batchNorm') throw new Error(`${spec.name}: expected a stage ending in batch norm`);
  return last.layer.channels;
}

function findStage(root: SequentialSpec, name: string): SequentialSpec {
  const found = root.layers.find((l): l is SequentialSpec => l.kind === 'sequential' && l.name === name);
  if (found === undefined) throw new Error(`deeplab spec: no stage ${name}`);
  return found;
}

/** The model tree for a (validated) config. */
export function deeplabSpec(config: ModelConfig): DeeplabSpec {
  const c = validateModelConfig(config);
  const backbone = resnetSpec({ backbone: c.backbone, outputStride: c.outputStride, width: c.width, multiGrid: c.multiGrid });
  const inC = backbone.outChannels;
  const ch = scaledChannels(256, c.width);
  const relu: LayerSpec = { kind: 'relu' };
  const branch = (i: number, layers: LayerSpec[]): SequentialSpec => ({ kind: 'sequential', name: `classifier.0.convs.${i}`, layers });
  const atrous = asppRates(c.outputStride).map((rate, j) =>
    branch(j + 1, [conv(`classifier.0.convs.${j + 1}.0`, inC, ch, 3, rate), bn(`classifier.0.convs.${j + 1}.1`, ch), relu]),
  );
  const aspp: SequentialSpec = {
    kind: 'sequential',
    name: 'classifier.0',
    stage: 'aspp',
    layers: [
      {
        kind: 'concat',
        name: 'classifier.0.convs',
        branches: [
          branch(0, [conv('classifier.0.convs.0.0', inC, ch, 1), bn('classifier.0.convs.0.1', ch), relu]),
          ...atrous,
          branch(4, [
            { kind: 'globalAvgPool' },
            conv('classifier.0.convs.4.1', inC, ch, 1),
            bn('classifier.0.convs.4.2', ch),
            relu,
            { kind: 'resize', to: 'scopeInput' },
          ]),
        ],
      },
      conv('classifier.0.project.0', 5 * ch, ch, 1),
      bn('classifier.0.project.1', ch),
      relu,
      { kind: 'dropout', rate: 0.5 },
    ],
  };
  const decoder: SequentialSpec = {
    kind: 'sequential',
    name: 'classifier',
    stage: 'decoder',
    layers: [
      conv('classifier.1', ch, ch, 3),
      bn('classifier.2', ch),
      relu,
      { ...conv('classifier.4', ch, c.numClasses, 1, 1, true), initStd: CLASSIFIER_INIT_STD },
    ],
  };
  const upsample: SequentialSpec = { kind: 'sequential', name: 'upsample', stage: 'upsample', layers: [{ kind: 'resize', to: 'image' }] };
  const aux = c.auxClassifier === true ? auxSpec(outChannelsOf(findStage(backbone.spec, AUX_SOURCE)), c.numClasses) : undefined;
  return {
    root: { kind: 'sequential', name: 'model', layers: [backbone.spec, aspp, decoder, upsample] },
    backbone: backbone.spec,
    ...(aux !== undefined ? { aux } : {}),
  };
}
