/**
 * A checkpoint's `config.json`: what the weights are (model config, classes, head,
 * normalisation) and where they came from (training arguments, iteration, last metrics,
 * package version, command line). Read back with every field checked, so a hand-edited
 * or foreign file fails with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { SegError } from '../core/errors.js';
import type { Normalization } from '../voc/normalize.js';
import { type ModelConfig, validateModelConfig } from '../segmentation/deeplab-spec.js';

export const CHECKPOINT_FORMAT = 'seg-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  model: ModelConfig;
  classNames: string[];
  /** The head spec in its text form (heads/head-spec.ts formatHeadSpec; parses back exactly). */
  head: string;
  normalization: Normalization;
  /** Training arguments as given (learning rate, batch size, ...), free-form. */
  training: Record<string, unknown>;
  /** Training iterations done when saved. */
  iteration: number;
  /** The last evaluation's metrics, if any. */
  metrics: Record<string, unknown> | null;
  packageVersion: string;
  /** The command line that made the checkpoint. */
  commandLine: string;
  /** ISO time of saving. */
  savedAt: string;
  /** Layout of conv kernels in the .safetensors files. */
  weightLayout: 'OIHW';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function triple(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Check a parsed config.json; `file` is named in errors. */
export function validateCheckpointConfig(value: unknown, file: string): CheckpointConfig {
  const bad = (what: string): SegError => new SegError(`${file}: ${what}; is this a seg checkpoint? (re-save it or point to another one)`, file);
  if (!isRecord(value)) throw bad('not a JSON object');
  if (value['format'] !== CHECKPOINT_FORMAT) throw bad(`format is ${JSON.stringify(value['format'])}, expected "${CHECKPOINT_FORMAT}"`);
  const version = value['formatVersion'];
  if (typeof version !== 'number' || version > CHECKPOINT_FORMAT_VERSION) {
    throw bad(`format version ${String(version)} is not supported (this seg reads up to ${CHECKPOINT_FORMAT_VERSION}; upgrade seg)`);
  }
  const m = value['model'];
  if (!isRecord(m)) throw bad('missing "model"');
  let model: ModelConfig;
  try {
    model = validateModelConfig(m as unknown as ModelConfig);
  } catch (err) {
    throw bad(`bad "model": ${err instanceof Error ? err.message : String(err)}`);
  }
  const classNames = value['classNames'];
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) throw bad('"classNames" must be a list of strings');
  if (classNames.length !== model.numClasses) throw bad(`${classNames.length} class names for a ${model.numClasses}-class model`);
  if (typeof value['head'] !== 'string') throw bad('"head" must be a head spec string');
  const norm = value['normalization'];
  if (!isRecord(norm) || !triple(norm['mean']) || !triple(norm['std'])) throw bad('"normalization" needs mean and std, three numbers each');
  const iteration = value['iteration'];
  if (typeof iteration !== 'number' || !Number.isInteger(iteration) || iteration < 0) throw bad('"iteration" must be an integer >= 0');
  const metrics = value['metrics'];
  return {
    format: CHECKPOINT_FORMAT,
    formatVersion: version,
    model,
    classNames: classNames as string[],
    head: value['head'],
    normalization: { mean: norm['mean'], std: norm['std'] },
    training: isRecord(value['training']) ? value['training'] : {},
    iteration,
    metrics: isRecord(metrics) ? metrics : null,
    packageVersion: typeof value['packageVersion'] === 'string' ? value['packageVersion'] : 'unknown',
    commandLine: typeof value['commandLine'] === 'string' ? value['commandLine'] : '',
    savedAt: typeof value['savedAt'] === 'string' ? value['savedAt'] : '',
    weightLayout: 'OIHW',
  };
}

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new SegError(code === 'ENOENT' ? `${file}: no such file (is the path a seg checkpoint directory?)` : `cannot read ${file}: ${String(err)}`, file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SegError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, file);
  }
}

/** "resnet50, output stride 16, width 1, 21 classes" (multi-grid when on). */
export function describeModelConfig(c: ModelConfig): string {
  return `${c.backbone}, output stride ${c.outputStride}, width ${c.width}${c.multiGrid ? ', multi-grid' : ''}, ${c.numClasses} classes`;
}

/** The fields where two model configs differ (empty when they match). */
export function modelConfigDifferences(a: ModelConfig, b: Partial<ModelConfig>): (keyof ModelConfig)[] {
  const keys: (keyof ModelConfig)[] = ['backbone', 'outputStride', 'width', 'numClasses', 'multiGrid'];
  return keys.filter((k) => b[k] !== undefined && b[k] !== a[k]);
}

/** SegError if `expected` (the model asked for) differs from the checkpoint's config; names both sides. */
export function checkModelMatches(checkpoint: ModelConfig, expected: Partial<ModelConfig>, where: string): void {
  const diff = modelConfigDifferences(checkpoint, expected);
  if (diff.length === 0) return;
  const wanted = diff.map((k) => `${k} ${String(expected[k])}`).join(', ');
  const has = diff.map((k) => `${k} ${String(checkpoint[k])}`).join(', ');
  throw new SegError(
    `checkpoint ${where} holds a ${describeModelConfig(checkpoint)} model; it does not fit the model asked for (${wanted} instead of ${has}). ` +
      'Use matching --backbone/--output-stride/--width/--classes, or another checkpoint.',
    where,
  );
}
