/**
 * The contract of a layer kind. A model is a tree of layer specs (plain JSON-like objects
 * with a `kind`); every part of seg that walks the tree (forward pass, weights and their
 * init, output shape, FLOPs, activation memory, ONNX emission) asks the kind's
 * implementation, registered in nn/layer-registry.ts, instead of switching on `kind`. One
 * file per kind lives in nn/layers/.
 *
 * A new kind is an addition: declare its spec, add it to `LayerSpecMap` by module
 * augmentation, implement `LayerKind<YourSpec>` and register it (`registerLayerKind`).
 * Containers (sequential, residual, concat) hold child specs and recurse through the
 * context's callbacks, so they never import the walkers.
 */
import type { tf } from '../engine/tf.js';
import type { Rng } from '../core/random.js';

/**
 * Every layer spec by its `kind`. Each kind's file adds its entry by module augmentation:
 * `declare module '../layer-kind.js' { interface LayerSpecMap { conv: ConvSpec } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation, one entry per kind
export interface LayerSpecMap {}

/** Any registered layer spec (a discriminated union on `kind`). */
export type LayerSpec = LayerSpecMap[keyof LayerSpecMap];
export type LayerKindName = keyof LayerSpecMap;

export type WeightRole = 'param' | 'buffer';

/** One named weight of the model, in tfjs layout (convs HWIO). */
export interface WeightSpec {
  name: string;
  shape: number[];
  /** 'param': trainable; 'buffer': not trained (BN running statistics). */
  role: WeightRole;
  /** The leaf that owns it. */
  layer: LayerSpec;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A feature map's size without tensors (per image). */
export interface TensorShape {
  height: number;
  width: number;
  channels: number;
  /** Input pixels per output pixel along one axis (the nominal output stride). */
  stride: number;
}

export type T4 = tf.Tensor4D;

export interface ForwardOptions {
  /** Training mode: batch-norm batch statistics (unless freezeBn) and dropout (if dropoutRng). */
  training: boolean;
  /** In training, normalise with (and keep) the running statistics: for small batches. */
  freezeBn?: boolean;
  /**
   * Dropout draws its masks from this generator in training; without it, dropout layers are
   * the identity (deterministic training, no RNG state to checkpoint).
   */
  dropoutRng?: Rng;
  /**
   * Uniform [0, 1) noise for one dropout layer of this shape, drawn from `dropoutRng` by the
   * caller (a captured step feeds it from a buffer of its own); without it, the dropout kind
   * draws it, with one `dropoutRng.nextU32()` seed per layer either way.
   */
  dropoutNoise?: (shape: readonly number[], rng: Rng) => tf.Tensor;
}

export interface LayerWeights {
  /** Trainable weights by name (convs HWIO). */
  params: ReadonlyMap<string, tf.Tensor>;
  /** BN running statistics by name; assigned in place in training mode. */
  buffers: ReadonlyMap<string, tf.Variable>;
}

/** What a kind's forward sees besides its input. */
export interface ForwardContext {
  options: ForwardOptions;
  /** What `resize to: 'image'` resizes to. */
  imageSize: [number, number];
  /** The input of the innermost enclosing container. */
  scopeInput: T4;
  /** Whether `x` needs an input gradient (false only for the network's own input). */
  inputGradient(x: T4): boolean;
  /** A trainable weight by name (throws if the model has none). */
  param(name: string): tf.Tensor;
  /** A buffer (BN running statistic) by name (throws if the model has none). */
  buffer(name: string): tf.Variable;
  /** Record the output of the container `name` if a caller asked for it. */
  tap(name: string, output: T4): void;
  /** Run a child spec on `x`; `scopeInput` is the input of the container running it. */
  run(child: LayerSpec, x: T4, scopeInput: T4): T4;
}

/** What a kind's output-shape rule sees besides its input shape. */
export interface ShapeContext {
  /** The network's input (what `resize to: 'image'` targets). */
  image: TensorShape;
  scopeInput: TensorShape;
  /** The output shape of a child spec, visiting it (and its weights, FLOPs, activations). */
  shape(child: LayerSpec, x: TensorShape, scopeInput: TensorShape): TensorShape;
}

/** An ONNX attribute: int, ints, string, or a float / floats. */
export type OnnxAttribute = number | number[] | string | { floats: number[] } | { float: number };

/**
 * The part of an ONNX graph builder that layer kinds use (export/onnx-graph.ts implements
 * it). Weights are initializers under their own names (`${name}.weight`, OIHW), added by
 * the exporter.
 */
export interface OnnxGraph {
  /** Append a node; returns its single output name (`output` if given). Skipped optional inputs are ''. */
  node(op: string, inputs: string[], attributes?: Record<string, OnnxAttribute>, output?: string): string;
  /** An int64 1-D constant with a generated name. */
  int64Constant(values: number[]): string;
  /** A float32 scalar constant with a generated name. */
  floatScalar(value: number): string;
}

/** A value in the ONNX graph (NCHW) with its spatial size when static. */
export interface OnnxValue {
  name: string;
  hw: [number, number] | null;
}

export interface OnnxContext {
  graph: OnnxGraph;
  /** The network's input (what `resize to: 'image'` targets). */
  image: OnnxValue;
  scopeInput: OnnxValue;
  /** Emit a child spec on `x`. */
  emit(child: LayerSpec, x: OnnxValue, scopeInput: OnnxValue): OnnxValue;
}

/** One activation a layer produces, for the memory estimate: a label (`byKind`) and its float32 values per image. */
export interface Activation {
  label: string;
  values: number;
}

/**
 * Everything seg needs to know about one kind of layer. Leaves return null children;
 * containers return their child specs (in execution order) and recurse through the
 * contexts. Every part is required, so a kind that compiles works in every walker.
 */
export interface LayerKind<S extends LayerSpec = LayerSpec> {
  readonly kind: S['kind'];
  /** A container's child specs in execution order (possibly none); null for a leaf. */
  children(spec: S): readonly LayerSpec[] | null;
  /** This node's own weights (not its children's), torchvision names, tfjs layout. */
  weights(spec: S): WeightSpec[];
  /** Initial values of one of `weights(spec)`, drawn from `rng` (a seed fixes the model). */
  init(spec: S, weight: WeightSpec, rng: Rng): Float32Array;
  /** NHWC forward with tfjs ops; call inside a tidy (intermediates are not disposed). */
  forward(spec: S, x: T4, ctx: ForwardContext): T4;
  /** Output shape for input `x` (containers through `ctx.shape`). */
  outputShape(spec: S, x: TensorShape, ctx: ShapeContext): TensorShape;
  /** FLOPs of this node itself (2 x multiply-adds; containers: their own ops only, children count themselves). */
  flops(spec: S, input: TensorShape, output: TensorShape): number;
  /** The activations this node itself produces per image (children report their own). */
  memory(spec: S, input: TensorShape, output: TensorShape): Activation[];
  /** Emit NCHW ONNX nodes (opset 17) computing the forward at inference. */
  onnx(spec: S, x: OnnxValue, ctx: OnnxContext): OnnxValue;
}

/** `init` of a kind without weights (never called: it owns none). */
export function noWeightsToInit(spec: { kind: string }, weight: WeightSpec): Float32Array {
  throw new Error(`layer kind ${spec.kind} owns no weights, yet was asked to initialise ${weight.name}`);
}

/**
 * The parts every weightless leaf shares (relu, pooling, dropout, resize): no children, no
 * weights, no counted FLOPs. Spread it into a kind and write the rest.
 */
export const WEIGHTLESS_LEAF: Pick<LayerKind, 'children' | 'weights' | 'init' | 'flops'> = {
  children: () => null,
  weights: () => [],
  init: noWeightsToInit,
  flops: () => 0,
};

/** Add the element counts of `weights` to `tally` (params: trainable; buffers: the rest). */
export function countWeights(weights: readonly WeightSpec[], tally: { params: number; buffers: number }): void {
  for (const w of weights) {
    if (w.role === 'param') tally.params += elementCount(w.shape);
    else tally.buffers += elementCount(w.shape);
  }
}

/** The activation of a node's whole output under `label`. */
export function outputActivation(label: string, output: TensorShape): Activation[] {
  return [{ label, values: output.height * output.width * output.channels }];
}

/** Output size of a stride-s conv or the 3x3/2 max pool with PyTorch padding. */
export function stridedSize(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}

export function mapHw(hw: [number, number] | null, f: (s: number) => number): [number, number] | null {
  return hw === null ? null : [f(hw[0]), f(hw[1])];
}
