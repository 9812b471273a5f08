import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as seg from '../src/index.js';

describe('public API', () => {
  it('is a curated surface: the workflow names and no internals', () => {
    const names = Object.keys(seg).sort();
    for (const name of [
      'openDataset',
      'createModel',
      'train',
      'evaluateModel',
      'predictFiles',
      'loadTrainedModel',
      'runTrace',
      'compareTraceDir',
      'createHead',
      'parseHeadSpec',
      'selectBackend',
      'SegError',
      'ConfusionMatrix',
      'computeMetrics',
    ]) {
      expect(names).toContain(name);
    }
    for (const internal of ['padTo', 'cropPair', 'runLayers', 'benchmarkModel', 'benchmarkConvOps', 'serializeSafetensors']) {
      expect(names).not.toContain(internal);
    }
    expect(names.length).toBeLessThanOrEqual(50);
  });

  it('the built package resolves its root and subpath exports by name', () => {
    // Self-reference through package.json "exports", as a user's `import ... from 'seg'` would.
    const script = [
      "const root = await import('seg');",
      "const conv = await import('seg/engine/conv2d');",
      "const png = await import('seg/image/label-png');",
      'console.log(typeof root.train, typeof conv.conv2d, typeof png.encodeLabelPng);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('function function function');
  });
});
