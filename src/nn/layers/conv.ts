/** 2D convolution (PyTorch 'same' padding d(k-1)/2), optional bias. */
import { tf } from '../../engine/tf.js';
import { conv2d } from '../../engine/conv2d.js';
import type { LayerKind, T4, WeightSpec } from '../layer-kind.js';
import { elementCount, mapHw, outputActivation, stridedSize } from '../layer-kind.js';

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

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    conv: ConvSpec;
  }
}

export const convKind: LayerKind<ConvSpec> = {
  kind: 'conv',
  children: () => null,
  weights(layer) {
    const weights: WeightSpec[] = [
      { name: `${layer.name}.weight`, shape: [layer.kernel, layer.kernel, layer.inChannels, layer.outChannels], role: 'param', layer },
    ];
    if (layer.bias) weights.push({ name: `${layer.name}.bias`, shape: [layer.outChannels], role: 'param', layer });
    return weights;
  },
  /** torchvision's ResNet init: Kaiming-normal (fan_out, ReLU gain) unless `initStd`; bias 0. */
  init(layer, weight, rng) {
    const size = elementCount(weight.shape);
    const data = new Float32Array(size);
    if (weight.name.endsWith('.weight')) {
      const std = layer.initStd ?? Math.sqrt(2 / (layer.outChannels * layer.kernel * layer.kernel));
      for (let i = 0; i < size; i++) data[i] = rng.normal() * std;
    }
    return data;
  },
  forward(layer, x, ctx) {
    const y = conv2d(x, ctx.param(`${layer.name}.weight`) as T4, {
      stride: layer.stride,
      dilation: layer.dilation,
      inputGradient: ctx.inputGradient(x),
    });
    return layer.bias ? (tf.add(y, ctx.param(`${layer.name}.bias`)) as T4) : y;
  },
  outputShape: (layer, x) => ({
    height: stridedSize(x.height, layer.stride),
    width: stridedSize(x.width, layer.stride),
    channels: layer.outChannels,
    stride: x.stride * layer.stride,
  }),
  flops: (layer, _input, out) => 2 * out.height * out.width * layer.outChannels * layer.inChannels * layer.kernel * layer.kernel,
  memory: (_layer, _input, out) => outputActivation('conv', out),
  onnx(layer, x, { graph }) {
    const pad = (layer.dilation * (layer.kernel - 1)) / 2;
    const inputs = [x.name, `${layer.name}.weight`, ...(layer.bias ? [`${layer.name}.bias`] : [])];
    const name = graph.node('Conv', inputs, {
      kernel_shape: [layer.kernel, layer.kernel],
      strides: [layer.stride, layer.stride],
      dilations: [layer.dilation, layer.dilation],
      pads: [pad, pad, pad, pad],
      group: 1,
    });
    return { name, hw: mapHw(x.hw, (s) => stridedSize(s, layer.stride)) };
  },
};
