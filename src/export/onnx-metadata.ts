/**
 * What an exported file records about itself in ONNX `metadata_props` (string pairs), so a
 * runtime can use it without the checkpoint: class names, pixel normalisation, head spec,
 * model config, the graph's output kind, whether it pads to the output stride and seg's version. Values are JSON where structured.
 */
import { SegError } from '../core/errors.js';
import { parseHeadSpec, type HeadSpec } from '../heads/head-spec.js';
import { NORMALIZATION_SCHEMA, type Normalization } from '../data-loading/normalize.js';
import { FieldError, parse } from '../core/schema.js';
import { type ModelConfig, validateModelConfig } from '../segmentation/deeplab-spec.js';

export const HEAD_OUTPUTS = ['logits', 'scores', 'mask'] as const;
export type HeadOutput = (typeof HEAD_OUTPUTS)[number];

export interface OnnxModelInfo {
  classNames: string[];
  normalization: Normalization;
  /** Head spec text form (heads/head-spec.ts). */
  head: string;
  model: ModelConfig;
  headOutput: HeadOutput;
  /** [H, W] when exported with static shapes. */
  fixedSize: [number, number] | null;
  /**
   * The graph pads the image to a multiple of the output stride and crops the logits back
   * (`--pad-to-stride`); files of seg versions before this key always did.
   */
  padToStride: boolean;
  segVersion: string;
}

const KEYS = {
  classNames: 'seg.classNames',
  normalization: 'seg.normalization',
  head: 'seg.head',
  model: 'seg.model',
  headOutput: 'seg.headOutput',
  fixedSize: 'seg.fixedSize',
  padToStride: 'seg.padToStride',
  segVersion: 'seg.version',
} as const;

/** The metadata_props entries for `info`. */
export function metadataProps(info: OnnxModelInfo): Record<string, string> {
  return {
    [KEYS.classNames]: JSON.stringify(info.classNames),
    [KEYS.normalization]: JSON.stringify(info.normalization),
    [KEYS.head]: info.head,
    [KEYS.model]: JSON.stringify(info.model),
    [KEYS.headOutput]: info.headOutput,
    [KEYS.fixedSize]: JSON.stringify(info.fixedSize),
    [KEYS.padToStride]: JSON.stringify(info.padToStride),
    [KEYS.segVersion]: info.segVersion,
  };
}

/** Parse metadata_props back; `file` is named in errors (a file not written by seg export). */
export function parseMetadataProps(props: Readonly<Record<string, string>>, file: string): OnnxModelInfo & { headSpec: HeadSpec } {
  const get = (key: string): string => {
    const v = props[key];
    if (v === undefined) {
      throw new SegError(
        `${file}: no '${key}' in the ONNX metadata_props; export the model with 'seg export' (or pass --checkpoint)`,
        file,
      );
    }
    return v;
  };
  const json = (key: string): unknown => {
    try {
      return JSON.parse(get(key)) as unknown;
    } catch (err) {
      if (err instanceof SegError) throw err;
      throw new SegError(`${file}: metadata '${key}' is not valid JSON; re-export the model with 'seg export'`, file);
    }
  };
  const classNames = json(KEYS.classNames);
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) {
    throw new SegError(`${file}: metadata '${KEYS.classNames}' must be a list of strings`, file);
  }
  let norm: Normalization;
  try {
    // The same check as config.json's normalization (a std of 0 would divide by zero).
    norm = parse(NORMALIZATION_SCHEMA, json(KEYS.normalization));
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    throw new SegError(
      `${file}: metadata '${KEYS.normalization}': ${err.field === '' ? '' : `${err.field}: `}${err.problem}; re-export the model with 'seg export'`,
      file,
    );
  }
  const model = validateModelConfig(json(KEYS.model) as ModelConfig);
  const headOutput = get(KEYS.headOutput);
  if (!HEAD_OUTPUTS.some((h) => h === headOutput)) {
    throw new SegError(`${file}: metadata '${KEYS.headOutput}' is '${headOutput}', expected one of ${HEAD_OUTPUTS.join(', ')}`, file);
  }
  const fixed = json(KEYS.fixedSize);
  const fixedSize = Array.isArray(fixed) && fixed.length === 2 ? ([Number(fixed[0]), Number(fixed[1])] as [number, number]) : null;
  const head = get(KEYS.head);
  // Absent: written by a seg that always padded.
  const pad = props[KEYS.padToStride] === undefined ? true : json(KEYS.padToStride);
  if (typeof pad !== 'boolean') throw new SegError(`${file}: metadata '${KEYS.padToStride}' must be true or false`, file);
  return {
    classNames: classNames as string[],
    normalization: { mean: norm.mean, std: norm.std },
    head,
    headSpec: parseHeadSpec(head, model.numClasses),
    model,
    headOutput: headOutput as HeadOutput,
    fixedSize,
    padToStride: pad,
    segVersion: get(KEYS.segVersion),
  };
}
