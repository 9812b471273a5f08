/**
 * What a backbone is to the rest of seg: a layer-spec tree for an output stride, the
 * channels of its last stage, and the stage whose output DeepLabV3+'s decoder reads as
 * low-level features (ResNet's layer1). A backbone file exports one BackboneDefinition;
 * backbones/registry.ts lists them.
 */
import type { Schema } from '../core/schema.js';
import type { SequentialSpec } from '../nn/layer-spec.js';

/** Output strides every backbone offers (DeepLab's 8 and 16). */
export const OUTPUT_STRIDES = [8, 16] as const;
export type OutputStride = (typeof OUTPUT_STRIDES)[number];

/** A registered backbone's name (`resnet50`, ...): see backboneNames(). */
export type BackboneName = string;

/** The architecture options a backbone is built from. */
export interface BackboneOptions {
  /** Which of the definition's names. */
  name: BackboneName;
  /** Channel multiplier, 1 = the published network. */
  width: number;
  /** Multi-grid (1, 2, 4) dilation in the last stage (DeepLab-v3). */
  multiGrid: boolean;
}

/** A stage of the backbone read by a decoder: a direct child of the backbone's tree. */
export interface StageTap {
  /** The `name` of the stage's sequential (e.g. `backbone.layer1`). */
  name: string;
  channels: number;
}

export interface BackboneFeatures {
  /**
   * The tree, named `backbone.*`: a sequential whose direct children are the stages run in
   * order (a decoder may split it after a stage, see `lowLevel`).
   */
  spec: SequentialSpec;
  /** Channels of the last stage's output. */
  channels: number;
  /** The low-level features (output stride 4): the stage DeepLabV3+ projects and concatenates. */
  lowLevel: StageTap;
}

export interface BackboneDefinition {
  /** The names it answers to (`--backbone`); each builds a variant. */
  names: readonly BackboneName[];
  /** One line for `seg info --list` and help texts. */
  description: string;
  /** Checks the options (names and ranges) and returns a clean copy; SegErrors name the flag. */
  options: Schema<BackboneOptions>;
  /** The tree for validated options at an output stride. */
  spec(options: BackboneOptions, outputStride: OutputStride): BackboneFeatures;
}
