/**
 * The backbone registry is open: a backbone defined in this file (no edit of src/) is
 * registered, becomes a valid config and CLI choice, and trains, saves, loads and evaluates
 * with either decoder, DeepLabV3+ reading its own low-level stage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { tf } from '../../src/backend/tf.js';
import { FieldError, type Schema } from '../../src/core/schema.js';
import type { BackboneDefinition, BackboneOptions, OutputStride } from '../../src/backbones/backbone.js';
import { backboneDefinition, backboneNames, registerBackbone } from '../../src/backbones/registry.js';
import { scaledChannels } from '../../src/backbones/width.js';
import type { LayerSpec, SequentialSpec } from '../../src/nn/layer-spec.js';
import { describeModel } from '../../src/segmentation/describe-model.js';
import { train } from '../../src/training/trainer.js';
import { DEFAULT_TRAIN_CONFIG, nestTrainConfig, type FlatTrainConfig } from '../../src/training/train-config.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { runCheckpointDir } from '../../src/checkpoint/run-layout.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { addTrainingOptions } from '../../src/cli/train-options.js';

/** A four-stage toy: a stride-2 conv per stage (the last ones dilated instead at OS8/16). */
const TOY_OPTIONS: Schema<BackboneOptions> = (v, field) => {
  const o = v as BackboneOptions;
  if (o.multiGrid) throw new FieldError(`${field}.multiGrid`, 'the toy backbone has no multi-grid');
  return { name: o.name, width: o.width, multiGrid: false };
};

const TOY: BackboneDefinition = {
  names: ['toy-net'],
  description: 'four conv stages (a test backbone)',
  options: TOY_OPTIONS,
  spec(options: BackboneOptions, outputStride: OutputStride) {
    const channels = [16, 24, 32, 48].map((c) => scaledChannels(c, options.width));
    let inChannels = 3;
    let stride = 1;
    let dilation = 1;
    const stages: SequentialSpec[] = channels.map((out, i) => {
      // Stages 0..1 reach stride 4 (the low-level features); the rest stop at the output stride.
      const step: 1 | 2 = i < 2 || stride < outputStride ? 2 : 1;
      if (i >= 2 && step === 1) dilation *= 2;
      stride *= step;
      const name = i === 0 ? 'backbone.stem' : `backbone.layer${i}`;
      const layers: LayerSpec[] = [
        {
          kind: 'conv',
          name: `${name}.conv`,
          inChannels,
          outChannels: out,
          kernel: 3,
          stride: step,
          dilation: step === 1 ? dilation : 1,
          bias: false,
        },
        { kind: 'batchNorm', name: `${name}.bn`, channels: out, eps: 1e-5, momentum: 0.1 },
        { kind: 'relu' },
      ];
      inChannels = out;
      return { kind: 'sequential', name, stage: i === 0 ? 'stem' : `layer${i}`, layers };
    });
    return {
      spec: { kind: 'sequential', name: 'backbone', layers: stages },
      channels: inChannels,
      lowLevel: { name: 'backbone.layer1', channels: channels[1] as number },
    };
  },
};

let dir: string;
let data: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  registerBackbone(TOY);
  dir = mkdtempSync(join(tmpdir(), 'seg-toy-backbone-'));
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 36, seed: 5 })).root;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  tf.disposeVariables();
});

describe('a backbone registered from outside src/', () => {
  it('is a name, a CLI choice and a config value; names are unique', () => {
    expect(backboneNames()).toEqual(['resnet18', 'resnet34', 'resnet50', 'resnet101', 'toy-net']);
    expect(backboneDefinition('toy-net')).toBe(TOY);
    expect(() => registerBackbone(TOY)).toThrow(/backbone toy-net: already registered/);
    const cmd = addTrainingOptions(new Command().exitOverride());
    const option = cmd.options.find((o) => o.long === '--backbone');
    expect(option?.argChoices).toContain('toy-net');
    const d = describeModel({ backbone: 'toy-net', outputStride: 8, width: 1, numClasses: 3, multiGrid: false }, 32);
    expect(d.stages.map((s) => [s.name, s.outputStride, s.channels])).toEqual([
      ['stem', 2, 16],
      ['layer1', 4, 24],
      ['layer2', 8, 32],
      ['layer3', 8, 48],
      ['aspp', 8, 256],
      ['decoder', 8, 256],
      ['classifier', 8, 3],
      ['upsample', 1, 3],
    ]);
    expect(() => describeModel({ backbone: 'toy-net', outputStride: 8, width: 1, numClasses: 3, multiGrid: true }, 32)).toThrow(
      /the toy backbone has no multi-grid/,
    );
  });

  for (const decoder of ['aspp', 'aspp-plus']) {
    it(`trains a step with ${decoder}, saves, loads and evaluates`, async () => {
      const config: FlatTrainConfig = {
        ...DEFAULT_TRAIN_CONFIG,
        data,
        out: join(dir, `run-${decoder}`),
        head: 'softmax',
        backbone: 'toy-net',
        decoder,
        width: 0.25,
        crop: 32,
        batch: 2,
        iters: 1,
        lr: 0.01,
        saveEvery: 0,
        evalEvery: 0,
        logEvery: 1,
        seed: 1,
      };
      const result = await train(nestTrainConfig(config));
      expect(result.iteration).toBe(1);
      expect(Number.isFinite(result.lastLoss)).toBe(true);
      expect(result.metrics?.mIoU).toBeGreaterThanOrEqual(0);
      const names = [...result.model.params.keys()];
      expect(names).toContain('backbone.layer3.conv.weight');
      expect(names.includes('classifier.low_level.0.weight')).toBe(decoder === 'aspp-plus');
      const loaded = loadCheckpoint(runCheckpointDir(config.out), { optimizer: false });
      expect(loaded.config.model.backbone).toBe('toy-net');
      expect(loaded.config.model.decoder).toBe(decoder === 'aspp' ? undefined : decoder);
      for (const [name, v] of result.model.params) {
        expect(Array.from(loaded.model.params.get(name)?.dataSync() ?? []), name).toEqual(Array.from(v.dataSync()));
      }
      result.model.dispose();
      loaded.model.dispose();
    });
  }
});
