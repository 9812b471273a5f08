/**
 * torchvision's DeepLabHead minus its last conv (the classifier, which the model adds):
 *
 *   classifier.0            ASPP
 *     convs.0.{0,1}         1x1 conv + BN (+ ReLU)
 *     convs.{1,2,3}.{0,1}   3x3 atrous conv (rates 6/12/18 at output stride 16, 12/24/36 at 8) + BN
 *     convs.4.{1,2}         image pooling: global average pool, 1x1 conv, BN, ReLU, upsample
 *     project.{0,1}         1x1 conv (5 x 256 -> 256) + BN + ReLU + dropout 0.5
 *   classifier.1, .2        3x3 conv 256 + BN (+ ReLU as .3)
 *
 * At width w the 256 becomes round(256 w).
 */
import type { OutputStride } from '../backbones/backbone.js';
import { scaledChannels } from '../backbones/width.js';
import type { LayerSpec, SequentialSpec } from '../nn/layer-spec.js';
import { type DecoderDefinition, type DecoderInput, type DecoderOutput, decoderBatchNorm as bn, decoderConv as conv } from './decoder.js';

/** ASPP atrous rates for an output stride. */
export function asppRates(outputStride: OutputStride): [number, number, number] {
  return outputStride === 16 ? [6, 12, 18] : [12, 24, 36];
}

/** ASPP's channels at a width: round(256 w). */
export function asppChannels(width: number): number {
  return scaledChannels(256, width);
}

/** The ASPP module (`classifier.0`, stage `aspp`) on features of `inChannels`. */
export function asppModule(inChannels: number, outputStride: OutputStride, width: number): SequentialSpec {
  const ch = asppChannels(width);
  const relu: LayerSpec = { kind: 'relu' };
  const branch = (i: number, layers: LayerSpec[]): SequentialSpec => ({ kind: 'sequential', name: `classifier.0.convs.${i}`, layers });
  const atrous = asppRates(outputStride).map((rate, j) =>
    branch(j + 1, [conv(`classifier.0.convs.${j + 1}.0`, inChannels, ch, 3, rate), bn(`classifier.0.convs.${j + 1}.1`, ch), relu]),
  );
  return {
    kind: 'sequential',
    name: 'classifier.0',
    stage: 'aspp',
    layers: [
      {
        kind: 'concat',
        name: 'classifier.0.convs',
        branches: [
          branch(0, [conv('classifier.0.convs.0.0', inChannels, ch, 1), bn('classifier.0.convs.0.1', ch), relu]),
          ...atrous,
          branch(4, [
            { kind: 'globalAvgPool' },
            conv('classifier.0.convs.4.1', inChannels, ch, 1),
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
}

/** DeepLab-v3 (torchvision's deeplabv3_resnet*): backbone, ASPP, one 3x3 conv. */
export const ASPP: DecoderDefinition = {
  name: 'aspp',
  description: "DeepLab-v3's ASPP and a 3x3 conv (torchvision's DeepLabHead)",
  spec({ backbone, outputStride, width }: DecoderInput): DecoderOutput {
    const ch = asppChannels(width);
    const bottleneck: SequentialSpec = {
      kind: 'sequential',
      name: 'classifier',
      stage: 'decoder',
      layers: [conv('classifier.1', ch, ch, 3), bn('classifier.2', ch), { kind: 'relu' }],
    };
    return { layers: [backbone.spec, asppModule(backbone.channels, outputStride, width), bottleneck], channels: ch };
  },
};
