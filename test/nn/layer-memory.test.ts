import { describe, expect, it } from 'vitest';
import { layerActivations } from '../../src/nn/layer-memory.js';
import type { LayerSpec } from '../../src/nn/layer-spec.js';

describe('layerActivations', () => {
  it('counts every output by kind, by hand on a small tree', () => {
    const conv = (name: string, i: number, o: number, stride: 1 | 2 = 1): LayerSpec => ({
      kind: 'conv',
      name,
      inChannels: i,
      outChannels: o,
      kernel: 3,
      stride,
      dilation: 1,
      bias: false,
    });
    const spec: LayerSpec = {
      kind: 'sequential',
      name: 'm',
      layers: [
        conv('c1', 3, 4, 2), // 10x10 -> 5x5x4 = 100
        { kind: 'batchNorm', name: 'bn', channels: 4, eps: 1e-5, momentum: 0.1 }, // 100
        { kind: 'relu' }, // 100
        { kind: 'residual', name: 'r', body: [conv('c2', 4, 4)], shortcut: [] }, // conv 100 + add 100
        {
          kind: 'concat',
          name: 'cat',
          branches: [
            { kind: 'sequential', name: 'b0', layers: [conv('c3', 4, 2)] }, // 50
            { kind: 'sequential', name: 'b1', layers: [{ kind: 'globalAvgPool' }, conv('c4', 4, 2), { kind: 'resize', to: 'scopeInput' }] }, // 4 + 2 + 50
          ],
        }, // concat 5x5x4 = 100
        { kind: 'resize', to: 'image' }, // 10x10x4 = 400
      ],
    };
    const t = layerActivations(spec, { height: 10, width: 10, channels: 3 });
    expect(t.byKind.conv).toBe(100 + 100 + 50 + 2);
    expect(t.byKind.batchNorm).toBe(100);
    expect(t.byKind.relu).toBe(100);
    expect(t.byKind.residualAdd).toBe(100);
    expect(t.byKind.globalAvgPool).toBe(4);
    expect(t.byKind.resize).toBe(50 + 400);
    expect(t.byKind.concat).toBe(100);
    expect(t.total).toBe(252 + 100 + 100 + 100 + 4 + 450 + 100);
    expect(t.largest).toBe(400);
    expect(t.output).toBe(400);
    expect(t.params).toBe(9 * (3 * 4 + 4 * 4 + 4 * 2 + 4 * 2) + 8);
    expect(t.buffers).toBe(8);
  });
});
