import { describe, expect, it } from 'vitest';
import type { LayerKind, LayerSpec } from '../../src/nn/layer-kind.js';
import { layerKind, registeredLayerKinds, registerLayerKind } from '../../src/nn/layer-registry.js';
import { convKind } from '../../src/nn/layers/conv.js';

/** Every part of the LayerKind contract; a kind lacking one would break a walker. */
const PARTS = [
  'children',
  'weights',
  'init',
  'forward',
  'outputShape',
  'flops',
  'memory',
  'onnx',
] as const satisfies readonly (keyof LayerKind)[];

describe('layer registry', () => {
  it('holds the ten built-in kinds, each implementing every part', () => {
    const kinds = registeredLayerKinds();
    expect(kinds.map((k) => k.kind)).toEqual(
      expect.arrayContaining([
        'conv',
        'batchNorm',
        'relu',
        'maxPool',
        'globalAvgPool',
        'dropout',
        'resize',
        'sequential',
        'residual',
        'concat',
      ]),
    );
    for (const kind of kinds) {
      for (const part of PARTS) expect(typeof kind[part], `${kind.kind}.${part}`).toBe('function');
      expect(layerKind({ kind: kind.kind } as LayerSpec)).toBe(kind);
    }
  });

  it('tells leaves from containers', () => {
    const containers = registeredLayerKinds().filter(
      (k) => k.children({ kind: k.kind, layers: [], body: [], shortcut: [], branches: [] } as never) !== null,
    );
    expect(containers.map((k) => k.kind).sort()).toEqual(['concat', 'residual', 'sequential']);
  });

  it('refuses a second kind of the same name and names the missing kind', () => {
    expect(() => registerLayerKind(convKind)).toThrow(/'conv' is already registered/);
    expect(() => layerKind({ kind: 'nope' } as unknown as LayerSpec)).toThrow(/no layer kind 'nope' is registered \(known: conv, /);
  });

  it('a kind without weights refuses to initialise one', () => {
    const relu = layerKind({ kind: 'relu' });
    expect(() =>
      relu.init({ kind: 'relu' }, { name: 'x.weight', shape: [1], role: 'param', layer: { kind: 'relu' } }, { normal: () => 0 } as never),
    ).toThrow(/relu owns no weights/);
  });
});
