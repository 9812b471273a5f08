/**
 * What a decoder is to the model: given the backbone's tree, the model's trees from the
 * image up to the features the classifier reads. The model (segmentation/deeplab-spec.ts)
 * appends the classifier (1x1 conv to the classes) and the upsample to the image. A decoder
 * file exports one DecoderDefinition; decoders/registry.ts lists them.
 */
import type { BackboneFeatures, OutputStride } from '../backbones/backbone.js';
import type { BatchNormSpec, ConvSpec, LayerSpec } from '../nn/layer-spec.js';

export interface DecoderInput {
  backbone: BackboneFeatures;
  outputStride: OutputStride;
  /** The model's channel multiplier (decoders scale their channel counts by it, see backbones/width.ts). */
  width: number;
}

export interface DecoderOutput {
  /**
   * The model's top-level trees, run in order on the image, ending in the decoder's features;
   * the backbone's trees (or its stages) are inside. Leaves keep the backbone's names.
   */
  layers: LayerSpec[];
  /** Channels of the features the classifier reads. */
  channels: number;
}

export interface DecoderDefinition {
  /** `--decoder` value. */
  name: string;
  /** One line for help texts and `seg info`. */
  description: string;
  spec(input: DecoderInput): DecoderOutput;
}

/** A stride-1 conv without bias (the decoders' convs; the classifier adds its own bias). */
export function decoderConv(name: string, inChannels: number, outChannels: number, kernel: number, dilation = 1): ConvSpec {
  return { kind: 'conv', name, inChannels, outChannels, kernel, stride: 1, dilation, bias: false };
}

/** PyTorch's BatchNorm2d defaults. */
export function decoderBatchNorm(name: string, channels: number): BatchNormSpec {
  return { kind: 'batchNorm', name, channels, eps: 1e-5, momentum: 0.1 };
}
