import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf.js';
import { backendTraits } from '../../../src/engine/backend-traits.js';
import { SegError } from '../../../src/core/errors.js';
import { createHead } from '../../../src/heads/head.js';
import { IMAGENET_NORMALIZATION } from '../../../src/data-loading/normalize.js';
import type { EngineCapabilities, EngineFactory, InferenceEngine } from '../../../src/inference/engines/engine.js';
import {
  defaultEngineName,
  engineNames,
  openEngine,
  parseEngineName,
  registerEngine,
  unregisterEngine,
} from '../../../src/inference/engines/registry.js';
import { predictMask } from '../../../src/inference/inference.js';

const CPU = { backend: backendTraits('cpu') };
const GPU = { backend: backendTraits('webgpu') };

/** An engine whose logits favour class (x mod 3) at column x: easy to check by hand. */
function stripes(capabilities: EngineCapabilities): InferenceEngine {
  return {
    kind: 'stripes',
    capabilities,
    numClasses: 3,
    outputStride: 8,
    padsToStride: false,
    estimateMemory: (h, w, batch) => h * w * batch,
    logits(images) {
      const [n, h, w] = images.shape;
      const data = new Float32Array(n * h * w * 3);
      for (let p = 0; p < n * h * w; p++) data[p * 3 + ((p % w) % 3)] = 1;
      return Promise.resolve(tf.tensor4d(data, [n, h, w, 3]));
    },
    dispose: () => Promise.resolve(),
  };
}

const capabilities: EngineCapabilities = { checkpoints: false, onnxFiles: true, onDeviceCounting: false, devices: ['cpu'], memory: 'host' };
const factory: EngineFactory = {
  capabilities,
  suits: (context) => Promise.resolve(!context.backend.gpu),
  open: () =>
    Promise.resolve({
      engine: stripes(capabilities),
      headSpec: { kind: 'linear' },
      classNames: ['a', 'b', 'c'],
      normalization: IMAGENET_NORMALIZATION,
    }),
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => {
  unregisterEngine('stripes');
});

describe('engine registry', () => {
  it('lists the built-in engines by priority, and parses names against the registry', () => {
    expect(engineNames()).toEqual(['onnxruntime', 'tfjs']);
    expect(parseEngineName('tfjs')).toBe('tfjs');
    expect(() => parseEngineName('tensorrt')).toThrow(SegError);
    expect(() => parseEngineName('tensorrt')).toThrow(/--engine.*onnxruntime, tfjs/);
    expect(() => registerEngine('Bad Name', factory, 1)).toThrow(SegError);
  });

  it('defaults to tfjs on a GPU backend and for checkpoints where onnxruntime does not suit', async () => {
    expect(await defaultEngineName('checkpoint', GPU)).toBe('tfjs');
    // .onnx files run on onnxruntime whatever the backend (the only engine that takes them).
    expect(await defaultEngineName('onnx', GPU)).toBe('onnxruntime');
  });

  it('takes a registered engine: choices, default by priority and suitability, and the one pipeline runs it', async () => {
    registerEngine('stripes', factory, 30);
    expect(engineNames()).toEqual(['stripes', 'onnxruntime', 'tfjs']);
    expect(await defaultEngineName('onnx', CPU)).toBe('stripes');
    // Where none that runs the source suits (a GPU backend), the highest priority one.
    expect(await defaultEngineName('onnx', GPU)).toBe('stripes');
    // It does not run checkpoints, so it is never their default.
    expect(await defaultEngineName('checkpoint', GPU)).toBe('tfjs');
    const opened = await openEngine({ kind: 'onnx', file: 'model.onnx' }, CPU);
    expect(opened.engine.kind).toBe('stripes');
    const [h, w] = [5, 7];
    const mask = await predictMask(opened.engine, createHead(opened.headSpec, 3), new Float32Array(h * w * 3), h, w, {
      flip: true,
      scales: [1],
    });
    // Flip mirrors the stripes: the average favours the class of column x or of column w-1-x; ties go to the lower class.
    const expected = Array.from({ length: h * w }, (_, p) => {
      const x = p % w;
      const a = x % 3;
      const b = (w - 1 - x) % 3;
      return Math.min(a, b);
    });
    expect(Array.from(mask)).toEqual(expected);
    unregisterEngine('stripes');
    expect(engineNames()).toEqual(['onnxruntime', 'tfjs']);
  });

  it('refuses an engine that cannot run the source, naming the ones that can', async () => {
    await expect(openEngine({ kind: 'onnx', file: 'm.onnx' }, CPU, 'tfjs')).rejects.toThrow(
      '--onnx m.onnx runs on onnxruntime: use --engine onnxruntime, or --checkpoint DIR for --engine tfjs',
    );
  });
});
