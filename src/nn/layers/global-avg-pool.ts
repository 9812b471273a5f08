/** Mean over H and W, keeping them as 1x1. */
import { globalAvgPool } from '../../engine/pool.js';
import type { LayerKind } from '../layer-kind.js';
import { WEIGHTLESS_LEAF, outputActivation } from '../layer-kind.js';

/** Mean over H and W, keeping them as 1x1. */
export interface GlobalAvgPoolSpec {
  kind: 'globalAvgPool';
}

declare module '../layer-kind.js' {
  interface LayerSpecMap {
    globalAvgPool: GlobalAvgPoolSpec;
  }
}

export const globalAvgPoolKind: LayerKind<GlobalAvgPoolSpec> = {
  kind: 'globalAvgPool',
  ...WEIGHTLESS_LEAF,
  forward: (_layer, x) => globalAvgPool(x),
  outputShape: (_layer, x) => ({ height: 1, width: 1, channels: x.channels, stride: x.stride }),
  memory: (_layer, _input, out) => outputActivation('globalAvgPool', out),
  onnx: (_layer, x, { graph }) => ({ name: graph.node('GlobalAveragePool', [x.name]), hw: x.hw === null ? null : [1, 1] }),
};
