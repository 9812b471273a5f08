/** The field table: every setting is one row, and everything else is made from it. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRAIN_CONFIG,
  fieldOfPath,
  flagNameOf,
  flattenTrainConfig,
  flatSettings,
  getField,
  nestTrainConfig,
  runModelConfig,
  setField,
  TRAIN_GROUPS,
  trainFieldRows,
  type FlatTrainConfig,
} from '../../src/training/train-fields.js';
import { FLAT_TRAIN_CONFIG_SHAPE, validateTrainConfig } from '../../src/training/train-config.js';
import { addTrainingOptions, fieldOption, trainConfigFromFlags } from '../../src/cli/train-options.js';
import { cliMessage, flagOf } from '../../src/cli/field-flags.js';
import { FieldError } from '../../src/core/schema.js';

const camel = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

const settings: FlatTrainConfig = { ...DEFAULT_TRAIN_CONFIG, data: 'd', out: 'o', auxLoss: 0.5, clipGradNorm: 2 };

describe('the field table', () => {
  it("each row's flat name is its flag's camelCase name; group keys are unique; defaults pass their own rule", () => {
    const paths = new Set<string>();
    for (const [name, row] of trainFieldRows()) {
      expect(camel(flagNameOf(name))).toBe(name);
      expect(TRAIN_GROUPS).toContain(row.group);
      const path = `${row.group}.${row.key}`;
      expect(paths.has(path), path).toBe(false);
      paths.add(path);
      expect(fieldOfPath(path)).toBe(name);
      expect(fieldOfPath(`training.${path}`)).toBe(name);
      if (row.default !== undefined) expect(row.schema(row.default, name)).toEqual(row.default);
      expect(FLAT_TRAIN_CONFIG_SHAPE[name]).toBeDefined();
    }
  });

  it('nests and flattens without loss; get and set address one setting', () => {
    const config = nestTrainConfig(settings);
    expect(config.data.root).toBe('d');
    expect(config.optim.lr).toBe(DEFAULT_TRAIN_CONFIG.lr);
    expect(config.run).toEqual({ out: 'o', seed: 0 });
    expect(flattenTrainConfig(config)).toEqual(settings);
    expect(flatSettings(JSON.parse(JSON.stringify(config)) as Record<string, unknown>)).toEqual(settings);
    expect(getField(config, 'valSplit')).toBe('val');
    const moved = setField(config, 'data', 'e');
    expect(moved.data.root).toBe('e');
    expect(config.data.root).toBe('d');
    expect(setField(config, 'auxLoss', undefined).model).not.toHaveProperty('auxLoss');
  });

  it('config.model gives the model config saved with checkpoints; only model rows that belong there go in', () => {
    const config = validateTrainConfig(nestTrainConfig({ ...settings, backbone: 'resnet18', outputStride: 8, width: 0.25 }));
    expect(runModelConfig(config.model, 21)).toEqual({
      backbone: 'resnet18',
      outputStride: 8,
      width: 0.25,
      multiGrid: false,
      auxClassifier: true,
      numClasses: 21,
    });
    expect(runModelConfig(nestTrainConfig({ ...settings, auxLoss: undefined }).model, 2)).not.toHaveProperty('auxClassifier');
  });

  it('the commander options are the rows: flags, choices, defaults and parsers', () => {
    const cmd = addTrainingOptions(new Command().exitOverride(), { dataHelp: 'data' });
    const shared = trainFieldRows().filter(([, row]) => row.sharedFlag !== false);
    for (const [name] of shared) expect(cmd.options.map((o) => o.long)).toContain(flagNameOf(name));
    expect(cmd.options.find((o) => o.long === '--backbone')?.argChoices).toEqual(['resnet18', 'resnet34', 'resnet50', 'resnet101']);
    expect(fieldOption('outputStride').defaultValue).toBe('16');
    cmd.parse(['--data', 'x', '--output-stride', '8', '--crop', '64', '--multi-grid', '--aux-loss', '0'], { from: 'user' });
    const config = trainConfigFromFlags(cmd.opts(), 'softmax', 'runs/a');
    expect(config.model).toMatchObject({ outputStride: 8, multiGrid: true, head: 'softmax' });
    expect(config.model).not.toHaveProperty('auxLoss');
    expect(config.data).toMatchObject({ root: 'x', crop: 64, batch: 8, photometric: false });
    expect(config.run).toEqual({ out: 'runs/a', seed: 0 });
    expect(() => cmd.parse(['--crop', '6.5'], { from: 'user' })).toThrow(/--crop: got '6.5', expected an integer/);
  });

  it('errors about a setting, by flat name or by path, name its flag', () => {
    expect(flagOf('valSplit')).toBe('--val-split');
    expect(flagOf('data.root')).toBe('--data');
    expect(flagOf('numClasses')).toBe('--classes');
    expect(cliMessage(new FieldError('data.batch', 'got 1; see `freezeBn` and `optim.lr`'))).toBe(
      '--batch: got 1; see --freeze-bn and --lr',
    );
    expect(() => validateTrainConfig(nestTrainConfig({ ...settings, batch: 1 }))).toThrow(/^data\.batch: got 1;/);
  });
});
