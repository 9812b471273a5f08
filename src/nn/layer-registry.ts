/**
 * The table of layer kinds, keyed by `kind`: the built-ins of nn/layers/ and any kind a
 * caller registers. Every walker (forward, weights, init, shape, cost, memory, ONNX) looks
 * a node's kind up here.
 */
import type { LayerKind, LayerKindName, LayerSpec, LayerSpecMap } from './layer-kind.js';
import { BUILTIN_LAYER_KINDS } from './layers/builtin.js';

const kinds = new Map<string, LayerKind<LayerSpec>>();
for (const kind of BUILTIN_LAYER_KINDS) kinds.set(kind.kind, kind);

/**
 * Add a layer kind (its spec type added to `LayerSpecMap` by module augmentation). A kind
 * name is registered once: a second registration is a programming error.
 */
export function registerLayerKind<K extends LayerKindName>(kind: LayerKind<LayerSpecMap[K]> & { kind: K }): void {
  if (kinds.has(kind.kind)) throw new Error(`layer kind '${kind.kind}' is already registered`);
  kinds.set(kind.kind, kind as LayerKind<LayerSpec>);
}

/** The implementation of `spec`'s kind. */
export function layerKind<S extends LayerSpec>(spec: S): LayerKind<S> {
  const kind = kinds.get(spec.kind);
  if (kind === undefined) {
    throw new Error(
      `no layer kind '${String(spec.kind)}' is registered (known: ${[...kinds.keys()].join(', ')}); call registerLayerKind first`,
    );
  }
  return kind as LayerKind<S>;
}

/** Every registered kind, built-ins first, in registration order. */
export function registeredLayerKinds(): readonly LayerKind<LayerSpec>[] {
  return [...kinds.values()];
}
