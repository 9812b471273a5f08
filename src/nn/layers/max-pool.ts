/** Max pool 3x3, stride 2, padding 1 (torchvision's ResNet stem). */
import { maxPool3x3s2 } from '../../engine/pool.js';
import type { LayerKind } from '../layer-kind.js';
import { mapHw, WEIGHTLESS_LEAF, outputActivation, stridedSize } from '../layer-kind.js';

/** Max pool, kernel 3, stride 2, padding 1 (torchvision's ResNet stem). */
export interface MaxPoolSpec {
  kind: 'maxPool';
  kernel: 3;
  stride: 2;
  padding: 1;
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    maxPool: MaxPoolSpec;
  }
}

export const maxPoolKind: LayerKind<MaxPoolSpec> = {
  kind: 'maxPool',
  ...WEIGHTLESS_LEAF,
  forward: (_layer, x) => maxPool3x3s2(x),
  outputShape: (_layer, x) => ({
    height: stridedSize(x.height, 2),
    width: stridedSize(x.width, 2),
    channels: x.channels,
    stride: x.stride * 2,
  }),
  memory: (_layer, _input, out) => outputActivation('maxPool', out),
  onnx: (_layer, x, { graph }) => ({
    name: graph.node('MaxPool', [x.name], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
    hw: mapHw(x.hw, (s) => stridedSize(s, 2)),
  }),
};
