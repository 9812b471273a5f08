/** Bilinear resize, PyTorch align_corners=False (ONNX: Resize linear, half_pixel). */
import { resizeBilinear } from '../../engine/resize.js';
import type { LayerKind, OnnxGraph, OnnxValue } from '../layer-kind.js';
import { WEIGHTLESS_LEAF, outputActivation } from '../layer-kind.js';

/**
 * Bilinear resize, PyTorch align_corners=False. `to: 'image'` resizes to the model input's
 * size; `to: 'scopeInput'` to the size of the input of the innermost enclosing sequential.
 */
export interface ResizeSpec {
  kind: 'resize';
  to: 'image' | 'scopeInput';
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    resize: ResizeSpec;
  }
}

/** Resize `x` bilinearly (half_pixel) to the spatial size of `target`. */
function onnxResizeTo(g: OnnxGraph, x: OnnxValue, target: OnnxValue): OnnxValue {
  const nc = g.node('Shape', [x.name], { start: 0, end: 2 });
  const hw = target.hw !== null ? g.int64Constant(target.hw) : g.node('Shape', [target.name], { start: 2, end: 4 });
  const sizes = g.node('Concat', [nc, hw], { axis: 0 });
  const name = g.node('Resize', [x.name, '', '', sizes], {
    mode: 'linear',
    coordinate_transformation_mode: 'half_pixel',
    nearest_mode: 'floor',
  });
  return { name, hw: target.hw };
}

export const resizeKind: LayerKind<ResizeSpec> = {
  kind: 'resize',
  ...WEIGHTLESS_LEAF,
  forward(layer, x, ctx) {
    const size: [number, number] = layer.to === 'image' ? ctx.imageSize : [ctx.scopeInput.shape[1], ctx.scopeInput.shape[2]];
    return resizeBilinear(x, size);
  },
  outputShape(layer, x, ctx) {
    const target = layer.to === 'image' ? ctx.image : ctx.scopeInput;
    return { height: target.height, width: target.width, channels: x.channels, stride: target.stride };
  },
  memory: (_layer, _input, out) => outputActivation('resize', out),
  onnx: (layer, x, ctx) => onnxResizeTo(ctx.graph, x, layer.to === 'image' ? ctx.image : ctx.scopeInput),
};
