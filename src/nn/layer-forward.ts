/**
 * The forward pass: a walk over a layer-spec tree, each node run by its kind (nn/layers/)
 * with tfjs ops that train on every backend (src/engine).
 */
import type { tf } from '../engine/tf.js';
import type { ForwardContext, ForwardOptions, LayerSpec, LayerWeights, T4 } from './layer-kind.js';
import { layerKind } from './layer-registry.js';

export type { ForwardOptions, LayerWeights } from './layer-kind.js';

export interface RunOptions {
  /** What `resize to: 'image'` layers resize to (default: x's own size). */
  imageSize?: [number, number];
  /** Every key that names a sequential gets its output (e.g. a stage an auxiliary head reads). */
  taps?: Map<string, T4 | undefined>;
  /** `x` is an intermediate (a tapped stage), so the first conv passes a gradient back to it. */
  inputGradient?: boolean;
}

/**
 * Run `spec` on NHWC `x`. Call inside tf.tidy / tf.variableGrads: intermediates are not
 * disposed here.
 */
export function runLayers(spec: LayerSpec, x: T4, weights: LayerWeights, options: ForwardOptions, more: RunOptions = {}): T4 {
  const imageSize = more.imageSize ?? [x.shape[1], x.shape[2]];
  // The network's input: a conv reading it needs no input gradient (null: the input needs one).
  const input = more.inputGradient === true ? null : x;
  const { taps } = more;
  const param = (name: string): tf.Tensor => {
    const t = weights.params.get(name);
    if (t === undefined) throw new Error(`forward: no weight named ${name}`);
    return t;
  };
  const buffer = (name: string): tf.Variable => {
    const t = weights.buffers.get(name);
    if (t === undefined) throw new Error(`forward: no buffer named ${name}`);
    return t;
  };
  const run = (layer: LayerSpec, h: T4, scopeInput: T4): T4 => {
    const ctx: ForwardContext = {
      options,
      imageSize,
      scopeInput,
      inputGradient: (t) => t !== input,
      param,
      buffer,
      tap: (name, output) => {
        if (taps?.has(name) === true) taps.set(name, output);
      },
      run,
    };
    return layerKind(layer).forward(layer, h, ctx);
  };
  return run(spec, x, x);
}
