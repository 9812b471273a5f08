/**
 * The segmentation model as a layer-spec tree: backbone + decoder + classifier, each from
 * its registry (backbones/registry.ts, decoders/registry.ts). With ResNet-50/101 and the
 * `aspp` decoder it has exactly the modules and parameter names of torchvision's
 * `deeplabv3_resnet50/101(num_classes=K, aux_loss=False)`, or `aux_loss=True` with
 * `auxClassifier`:
 *
 *   backbone.*              the backbone (backbones/resnet.ts)
 *   classifier.0 ... .2     the decoder (decoders/aspp.ts: ASPP and a 3x3 conv + BN + ReLU)
 *   classifier.4            1x1 conv to K classes, with bias (the head's classifier)
 *
 * then bilinear upsampling of the logits to the input size. `aspp-plus` (DeepLabV3+,
 * decoders/aspp-plus.ts) keeps the ASPP and the classifier names.
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
import { type BatchNormSpec, type ConvSpec, type SequentialSpec, weightSpecs } from '../nn/layer-spec.js';
import { boolean, integer, number, object, oneOf, parse, type Schema } from '../core/schema.js';
import { SegError } from '../core/errors.js';
import type { BackboneName, OutputStride } from '../backbones/backbone.js';
import { backboneFeatures, backboneNameSchema, outputStrides } from '../backbones/registry.js';
import { WIDTH_RANGE } from '../backbones/width.js';
import { DEFAULT_DECODER, decoderDefinition, decoderNameSchema } from '../decoders/registry.js';

/** Std of the final classifier's normal init (mmsegmentation's decode-head default). */
export const CLASSIFIER_INIT_STD = 0.01;

export interface ModelConfig {
  /** A registered backbone (backbones/registry.ts). */
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
  /**
   * A registered decoder (decoders/registry.ts); absent means `aspp` (configs never hold
   * `aspp`, so checkpoints saved before decoders existed stay equal).
   */
  decoder?: string;
}

/** The decoder of a config (`aspp` when it names none). */
export function decoderOf(config: Pick<ModelConfig, 'decoder'>): string {
  return config.decoder ?? DEFAULT_DECODER;
}

/** The spec's name of the stage the aux classifier reads (torchvision's `aux` return layer). */
export const AUX_SOURCE = 'backbone.layer3';

/** Rate of the aux classifier's dropout (torchvision's FCNHead: 0.1). */
const AUX_DROPOUT = 0.1;

/** Every field of a model config (read from files or built by hand). */
export const MODEL_CONFIG_SCHEMA: Schema<ModelConfig> = object<ModelConfig>({
  backbone: backboneNameSchema(),
  outputStride: oneOf(outputStrides()),
  width: number({ min: WIDTH_RANGE[0], max: WIDTH_RANGE[1] }),
  numClasses: integer({ min: 1, max: 255 }),
  multiGrid: boolean(),
  // `false` is left out (undefined results are dropped), so a config holds `true` or nothing.
  auxClassifier: (v, field) => (v === undefined || boolean()(v, field) === false ? undefined : true),
  // `aspp` is left out like `auxClassifier: false`: a config names a decoder only when it is another.
  decoder: (v, field) => {
    if (v === undefined) return undefined;
    const name = decoderNameSchema()(v, field);
    return name === DEFAULT_DECODER ? undefined : name;
  },
});

/** Checks every field; returns a clean copy. */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  return parse(MODEL_CONFIG_SCHEMA, config);
}

function conv(name: string, inChannels: number, outChannels: number, kernel: number, bias = false): ConvSpec {
  return { kind: 'conv', name, inChannels, outChannels, kernel, stride: 1, dilation: 1, bias };
}

function bn(name: string, channels: number): BatchNormSpec {
  return { kind: 'batchNorm', name, channels, eps: 1e-5, momentum: 0.1 };
}

export interface DeeplabSpec {
  /** The whole model: backbone, decoder, classifier, upsample. */
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
      { ...conv('aux_classifier.4', inter, numClasses, 1, true), initStd: CLASSIFIER_INIT_STD },
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

function findStage(root: SequentialSpec, name: string, backbone: string): SequentialSpec {
  const found = root.layers.find((l): l is SequentialSpec => l.kind === 'sequential' && l.name === name);
  if (found === undefined) {
    throw new SegError(
      `backbone ${backbone} has no stage ${name} for torchvision's aux classifier; train it without --aux-loss`,
      '--aux-loss',
    );
  }
  return found;
}

/** The model tree for a (validated) config. */
export function deeplabSpec(config: ModelConfig): DeeplabSpec {
  const c = validateModelConfig(config);
  const backbone = backboneFeatures({ name: c.backbone, width: c.width, multiGrid: c.multiGrid }, c.outputStride);
  const decoder = decoderDefinition(decoderOf(c)).spec({ backbone, outputStride: c.outputStride, width: c.width });
  const classifier: SequentialSpec = {
    kind: 'sequential',
    name: 'classifier.4',
    stage: 'classifier',
    layers: [{ ...conv('classifier.4', decoder.channels, c.numClasses, 1, true), initStd: CLASSIFIER_INIT_STD }],
  };
  const upsample: SequentialSpec = { kind: 'sequential', name: 'upsample', stage: 'upsample', layers: [{ kind: 'resize', to: 'image' }] };
  const aux = c.auxClassifier === true ? auxSpec(outChannelsOf(findStage(backbone.spec, AUX_SOURCE, c.backbone)), c.numClasses) : undefined;
  return {
    root: { kind: 'sequential', name: 'model', layers: [...decoder.layers, classifier, upsample] },
    backbone: backbone.spec,
    ...(aux !== undefined ? { aux } : {}),
  };
}
