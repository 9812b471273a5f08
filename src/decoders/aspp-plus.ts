/**
 * DeepLabV3+ (Chen et al. 2018) as mmsegmentation's DepthwiseSeparableASPPHead, with plain
 * 3x3 convs where it has depthwise-separable ones:
 *
 *   backbone up to its low-level stage (ResNet: stem, layer1; output stride 4)
 *   concat of two branches on those features:
 *     the rest of the backbone, ASPP (`classifier.0`, as in aspp.ts), bilinear upsample to the
 *       low-level size (align_corners false)
 *     classifier.low_level.{0,1}  1x1 conv to 48 + BN (+ ReLU)  (mmseg's c1_bottleneck)
 *   classifier.fuse.{0,1}, .{3,4}  two 3x3 convs 256 + BN (+ ReLU)  (mmseg's sep_bottleneck)
 *
 * The ASPP output comes first in the concat, as mmseg's `torch.cat([output, c1_output])`.
 * At width w, 256 and 48 become round(256 w) and round(48 w).
 */
import { scaledChannels } from '../backbones/width.js';
import type { LayerSpec, SequentialSpec } from '../nn/layer-spec.js';
import { asppChannels, asppModule } from './aspp.js';
import { type DecoderDefinition, type DecoderInput, type DecoderOutput, decoderBatchNorm as bn, decoderConv as conv } from './decoder.js';

/** Channels of the low-level projection at width 1 (DeepLabV3+, mmseg's c1_channels). */
export const LOW_LEVEL_CHANNELS = 48;

export const ASPP_PLUS: DecoderDefinition = {
  name: 'aspp-plus',
  description: 'DeepLabV3+: ASPP, upsampled to layer1 and concatenated with its 48-channel projection, two 3x3 convs',
  spec({ backbone, outputStride, width }: DecoderInput): DecoderOutput {
    const stages = backbone.spec.layers;
    const split = stages.findIndex((l) => l.kind === 'sequential' && l.name === backbone.lowLevel.name);
    if (split < 0) throw new Error(`aspp-plus: the backbone has no stage ${backbone.lowLevel.name} among its direct children`);
    const ch = asppChannels(width);
    const low = scaledChannels(LOW_LEVEL_CHANNELS, width);
    const relu: LayerSpec = { kind: 'relu' };
    const deep: SequentialSpec = {
      kind: 'sequential',
      name: `${backbone.spec.name}.deep`,
      // `scopeInput` here is the low-level features: the upsample goes to their size.
      layers: [...stages.slice(split + 1), asppModule(backbone.channels, outputStride, width), { kind: 'resize', to: 'scopeInput' }],
    };
    const projection: SequentialSpec = {
      kind: 'sequential',
      name: 'classifier.low_level',
      stage: 'lowLevel',
      layers: [conv('classifier.low_level.0', backbone.lowLevel.channels, low, 1), bn('classifier.low_level.1', low), relu],
    };
    const fuse: SequentialSpec = {
      kind: 'sequential',
      name: 'classifier.fuse',
      stage: 'decoder',
      layers: [
        conv('classifier.fuse.0', ch + low, ch, 3),
        bn('classifier.fuse.1', ch),
        relu,
        conv('classifier.fuse.3', ch, ch, 3),
        bn('classifier.fuse.4', ch),
        relu,
      ],
    };
    return {
      layers: [
        { ...backbone.spec, layers: stages.slice(0, split + 1) },
        { kind: 'concat', name: 'classifier.fuse_inputs', branches: [deep, projection] },
        fuse,
      ],
      channels: ch,
    };
  },
};
