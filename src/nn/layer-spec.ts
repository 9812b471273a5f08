/**
 * The layer vocabulary: a model is a tree of these specs plus a map of weights keyed by
 * torchvision parameter names. Every consumer (forward pass, parameter/FLOP counting,
 * weight init, memory estimate, checkpoints, pretrained import, ONNX export) walks the same tree;
 * none of them re-describes the architecture.
 *
 * Leaves carry their full torchvision module name (e.g. `backbone.layer1.0.conv1`), so
 * the grouping of the tree is free to follow the computation rather than torch's modules.
 */

/** 2D convolution, PyTorch 'same' padding d(k-1)/2. Weight `${name}.weight`, HWIO in tfjs. */
export interface ConvSpec {
  kind: 'conv';
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: 1 | 2;
  dilation: number;
  /** Adds `${name}.bias`. */
  bias: boolean;
  /**
   * Normal init with this std instead of Kaiming: the final classifier uses 0.01, as
   * mmsegmentation's decode heads, so initial logits are near 0 and every head starts from
   * the same gradient (exp boost with alpha = 1/K equals the uniform softmax at z = 0).
   */
  initStd?: number;
}

/** Batch norm: params `${name}.weight|bias`, buffers `${name}.running_mean|running_var`. */
export interface BatchNormSpec {
  kind: 'batchNorm';
  name: string;
  channels: number;
  eps: number;
  /** PyTorch's momentum for the running statistics. */
  momentum: number;
}

export interface ReluSpec {
  kind: 'relu';
}

/** Max pool, kernel 3, stride 2, padding 1 (torchvision's ResNet stem). */
export interface MaxPoolSpec {
  kind: 'maxPool';
  kernel: 3;
  stride: 2;
  padding: 1;
}

/** Mean over H and W, keeping them as 1x1. */
export interface GlobalAvgPoolSpec {
  kind: 'globalAvgPool';
}

/** Dropout (identity at inference). */
export interface DropoutSpec {
  kind: 'dropout';
  rate: number;
}

/**
 * Bilinear resize, PyTorch align_corners=False. `to: 'image'` resizes to the model input's
 * size; `to: 'scopeInput'` to the size of the input of the innermost enclosing sequential.
 */
export interface ResizeSpec {
  kind: 'resize';
  to: 'image' | 'scopeInput';
}

/** Layers applied in order. `stage` marks the groups reported by `seg info`. */
export interface SequentialSpec {
  kind: 'sequential';
  name: string;
  stage?: string;
  layers: LayerSpec[];
}

/** body(x) + shortcut(x); an empty shortcut is the identity. */
export interface ResidualSpec {
  kind: 'residual';
  name: string;
  body: LayerSpec[];
  shortcut: LayerSpec[];
}

/** Branches applied to the same input, concatenated along channels. */
export interface ConcatSpec {
  kind: 'concat';
  name: string;
  branches: SequentialSpec[];
}

export type LayerSpec =
  | ConvSpec
  | BatchNormSpec
  | ReluSpec
  | MaxPoolSpec
  | GlobalAvgPoolSpec
  | DropoutSpec
  | ResizeSpec
  | SequentialSpec
  | ResidualSpec
  | ConcatSpec;

export type WeightRole = 'param' | 'buffer';

/** One named weight of the model, in tfjs layout (convs HWIO). */
export interface WeightSpec {
  name: string;
  shape: number[];
  /** 'param': trainable; 'buffer': BN running statistics. */
  role: WeightRole;
  /** The leaf that owns it. */
  layer: ConvSpec | BatchNormSpec;
}

/** The leaves, depth first, in execution order. */
export function leaves(spec: LayerSpec): LayerSpec[] {
  const out: LayerSpec[] = [];
  const visit = (node: LayerSpec): void => {
    switch (node.kind) {
      case 'sequential':
        node.layers.forEach(visit);
        break;
      case 'residual':
        node.body.forEach(visit);
        node.shortcut.forEach(visit);
        break;
      case 'concat':
        node.branches.forEach(visit);
        break;
      default:
        out.push(node);
    }
  };
  visit(spec);
  return out;
}

/** The weights of one leaf (none for weightless layers). */
export function layerWeights(layer: LayerSpec): WeightSpec[] {
  if (layer.kind === 'conv') {
    const weights: WeightSpec[] = [
      { name: `${layer.name}.weight`, shape: [layer.kernel, layer.kernel, layer.inChannels, layer.outChannels], role: 'param', layer },
    ];
    if (layer.bias) weights.push({ name: `${layer.name}.bias`, shape: [layer.outChannels], role: 'param', layer });
    return weights;
  }
  if (layer.kind === 'batchNorm') {
    const c = [layer.channels];
    return [
      { name: `${layer.name}.weight`, shape: c, role: 'param', layer },
      { name: `${layer.name}.bias`, shape: c, role: 'param', layer },
      { name: `${layer.name}.running_mean`, shape: c, role: 'buffer', layer },
      { name: `${layer.name}.running_var`, shape: c, role: 'buffer', layer },
    ];
  }
  return [];
}

/** Every weight of the tree, in execution order. */
export function weightSpecs(spec: LayerSpec): WeightSpec[] {
  return leaves(spec).flatMap(layerWeights);
}

/** The batch-norm leaves (for PyTorch's `num_batches_tracked` and BN mode checks). */
export function batchNormLayers(spec: LayerSpec): BatchNormSpec[] {
  return leaves(spec).filter((l): l is BatchNormSpec => l.kind === 'batchNorm');
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
