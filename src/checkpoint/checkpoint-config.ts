/**
 * A checkpoint's `config.json`: what the weights are (model config, classes, head,
 * normalisation) and where they came from (training arguments, iteration, last metrics,
 * package version, command line). Read back with every field checked, so a hand-edited
 * or foreign file fails with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { SegError } from '../core/errors.js';
import { NORMALIZATION_SCHEMA, type Normalization } from '../data-loading/normalize.js';
import { arrayOf, fieldPath, FieldError, integer, object, oneOf, parse, recordOf, string, type Schema } from '../core/schema.js';
import { decoderOf, MODEL_CONFIG_SCHEMA, type ModelConfig } from '../segmentation/deeplab-spec.js';

export const CHECKPOINT_FORMAT = 'seg-checkpoint';
/** 2: `training` holds the run's settings nested by group (training/train-config.ts); 1: flat. */
export const CHECKPOINT_FORMAT_VERSION = 2;

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
  /** The tfjs backend that computed the weights, and its GPU adapter (webgpu); null when not recorded. */
  backend: { name: string; adapter: string | null } | null;
}

const CONFIG_JSON_SCHEMA: Schema<CheckpointConfig> = object<CheckpointConfig>(
  {
    format: oneOf([CHECKPOINT_FORMAT]),
    formatVersion: integer({ min: 1, max: CHECKPOINT_FORMAT_VERSION }),
    model: MODEL_CONFIG_SCHEMA,
    classNames: arrayOf(string()),
    head: string({ nonEmpty: true }),
    normalization: NORMALIZATION_SCHEMA,
    training: orDefault(
      recordOf((v) => v),
      {},
    ),
    iteration: integer({ min: 0 }),
    metrics: orDefault((v, field) => (v === null ? null : recordOf((x) => x)(v, field)), null),
    packageVersion: orDefault(string(), 'unknown'),
    commandLine: orDefault(string(), ''),
    savedAt: orDefault(string(), ''),
    weightLayout: orDefault(oneOf(['OIHW']), 'OIHW'),
    backend: orDefault(
      (v, field) =>
        v === null
          ? null
          : object({ name: string(), adapter: (a, f) => (a === null || a === undefined ? null : string()(a, f)) })(v, field),
      null,
    ),
  },
  (c, field) => {
    if (c.classNames.length !== c.model.numClasses) {
      throw new FieldError(fieldPath(field, 'classNames'), `${c.classNames.length} class names for a ${c.model.numClasses}-class model`);
    }
  },
);

/** Fields older or hand-made checkpoints may lack. */
function orDefault<T>(schema: Schema<T>, fallback: T): Schema<T> {
  return (v, field) => (v === undefined ? fallback : schema(v, field));
}

/** Check a parsed config.json; `file` is named in errors. */
export function validateCheckpointConfig(value: unknown, file: string): CheckpointConfig {
  try {
    return parse(CONFIG_JSON_SCHEMA, value, { file });
  } catch (err) {
    if (err instanceof FieldError) {
      const hint =
        err.field === 'formatVersion' && typeof (value as { formatVersion?: unknown }).formatVersion === 'number'
          ? ' (a newer seg wrote it; upgrade seg)'
          : '';
      throw new FieldError(err.field, `${err.problem}${hint}; is this a seg checkpoint? (re-save it or point to another one)`, file);
    }
    throw err;
  }
}

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new SegError(
      code === 'ENOENT' ? `${file}: no such file (is the path a seg checkpoint directory?)` : `cannot read ${file}: ${String(err)}`,
      file,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SegError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, file);
  }
}

/** "resnet50, output stride 16, width 1, 21 classes" (multi-grid and the aux classifier when on). */
export function describeModelConfig(c: ModelConfig): string {
  const aux = c.auxClassifier === true ? ', aux classifier' : '';
  const decoder = c.decoder !== undefined ? `, decoder ${c.decoder}` : '';
  return `${c.backbone}, output stride ${c.outputStride}, width ${c.width}${c.multiGrid ? ', multi-grid' : ''}${decoder}, ${c.numClasses} classes${aux}`;
}

/** The fields where two model configs differ (empty when they match). */
export function modelConfigDifferences(a: ModelConfig, b: Partial<ModelConfig>): (keyof ModelConfig)[] {
  const keys: (keyof ModelConfig)[] = ['backbone', 'outputStride', 'width', 'numClasses', 'multiGrid'];
  const differs = keys.filter((k) => b[k] !== undefined && b[k] !== a[k]);
  // Absent means no aux classifier, so only a config that names one on one side differs.
  const auxOf = (c: Partial<ModelConfig>): boolean => c.auxClassifier === true;
  const withAux = 'auxClassifier' in b && auxOf(a) !== auxOf(b) ? [...differs, 'auxClassifier' as const] : differs;
  // Absent means aspp, as for auxClassifier.
  return 'decoder' in b && decoderOf(a) !== decoderOf(b) ? [...withAux, 'decoder'] : withAux;
}

/** SegError if `expected` (the model asked for) differs from the checkpoint's config; names both sides. */
export function checkModelMatches(checkpoint: ModelConfig, expected: Partial<ModelConfig>, where: string): void {
  const diff = modelConfigDifferences(checkpoint, expected);
  if (diff.length === 0) return;
  const value = (c: Partial<ModelConfig>, k: keyof ModelConfig): string =>
    k === 'auxClassifier' ? String(c[k] === true) : k === 'decoder' ? decoderOf(c) : String(c[k]);
  const wanted = diff.map((k) => `${k} ${value(expected, k)}`).join(', ');
  const has = diff.map((k) => `${k} ${value(checkpoint, k)}`).join(', ');
  throw new SegError(
    `checkpoint ${where} holds a ${describeModelConfig(checkpoint)} model; it does not fit the model asked for (${wanted} instead of ${has}). ` +
      'Use a model with matching `backbone`, `outputStride`, `width`, `numClasses`, `multiGrid`, `decoder` and `auxClassifier`, or another checkpoint.',
    where,
  );
}
