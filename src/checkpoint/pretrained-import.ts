/**
 * Pretrained backbone import: an ImageNet ResNet (a torchvision `.pth`, read natively, or
 * safetensors, e.g. timm's) with torchvision / timm names (`conv1.weight`, `bn1.running_mean`, `layer3.5.conv2.weight`,
 * `layer1.0.downsample.0.weight`, ...; conv kernels OIHW, F32/F16/BF16) goes into the
 * model's `backbone.*` weights (HWIO). Keys already prefixed `backbone.` (a torchvision
 * segmentation state dict) are taken as they are; a DataParallel `module.` prefix is
 * stripped. `fc.*` and `*.num_batches_tracked` are ignored; other keys the backbone does
 * not have are reported as unexpected, backbone weights the file lacks as missing. A shape
 * mismatch (another depth or a width multiplier) is a SegError naming the key, both shapes
 * and the file, and nothing is changed: every tensor is checked before any is assigned.
 */
import { tf } from '../backend/tf.js';
import { toFloat32 } from './safetensors.js';
import { readStateDict } from './state-dict-file.js';
import { SegError } from '../core/errors.js';
import { weightSpecs, type WeightSpec } from '../nn/layer-spec.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { formatShape, oihwToHwio, sameShape, torchShape } from './weight-layout.js';

export interface PretrainedImportReport {
  file: string;
  /** Model weight names that received values. */
  loaded: string[];
  /** Backbone weights the file did not have (they keep their initial values). */
  missing: string[];
  /** File keys the backbone has no place for (besides the ignored ones). */
  unexpected: string[];
  /** File keys skipped on purpose (`fc.*`, `num_batches_tracked`). */
  ignored: string[];
}

export interface PretrainedImportOptions {
  /** Receives a summary line and the missing / unexpected keys. */
  log?: (line: string) => void;
}

function isIgnored(key: string): boolean {
  return key.startsWith('fc.') || key.endsWith('.num_batches_tracked');
}

/** The model name a file key maps to. */
export function pretrainedTarget(key: string): string {
  const bare = key.startsWith('module.') ? key.slice('module.'.length) : key;
  return bare.startsWith('backbone.') ? bare : `backbone.${bare}`;
}

function listSome(keys: readonly string[], max = 8): string {
  return keys.length <= max ? keys.join(', ') : `${keys.slice(0, max).join(', ')}, ... (${keys.length - max} more)`;
}

/** Load an ImageNet ResNet backbone from `file` into `model` (see the module comment). */
export function importPretrainedBackbone(
  model: SegmentationModel,
  file: string,
  options: PretrainedImportOptions = {},
): PretrainedImportReport {
  const { tensors, wrappedIn } = readStateDict(file);
  const wanted = new Map<string, WeightSpec>(weightSpecs(model.backboneSpec).map((w) => [w.name, w]));
  const plan: { weight: WeightSpec; data: Float32Array }[] = [];
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const [key, t] of tensors) {
    if (isIgnored(key)) {
      ignored.push(key);
      continue;
    }
    const weight = wanted.get(pretrainedTarget(key));
    if (weight === undefined) {
      unexpected.push(key);
      continue;
    }
    const expected = torchShape(weight.shape);
    if (!sameShape(t.shape, expected)) {
      const { backbone, width } = model.config;
      throw new SegError(
        `${file}: ${key} has shape ${formatShape(t.shape)}, the ${backbone} backbone at width ${width} expects ${formatShape(expected)}; ` +
          'use a checkpoint of the same ResNet depth (and `width` 1)',
        file,
      );
    }
    plan.push({ weight, data: oihwToHwio(toFloat32(t), t.shape) });
  }
  if (plan.length === 0) {
    throw new SegError(
      `${file}: no ResNet backbone weights found (${tensors.size} tensors, e.g. ${listSome([...tensors.keys()], 3)}); ` +
        'expected torchvision/timm names such as conv1.weight and layer1.0.conv1.weight',
      file,
    );
  }
  for (const { weight, data } of plan) {
    const v = (weight.role === 'param' ? model.params : model.buffers).get(weight.name) as tf.Variable;
    tf.tidy(() => v.assign(tf.tensor(data, weight.shape, 'float32')));
  }
  const loaded = plan.map((p) => p.weight.name);
  const loadedSet = new Set(loaded);
  const missing = [...wanted.keys()].filter((n) => !loadedSet.has(n));
  const log = options.log;
  if (log !== undefined) {
    log(
      `${file}${wrappedIn !== undefined ? ` ['${wrappedIn}']` : ''}: loaded ${loaded.length} backbone tensors, ${missing.length} missing, ${unexpected.length} unexpected, ${ignored.length} ignored`,
    );
    if (missing.length > 0) log(`  missing (kept at their initial values): ${listSome(missing)}`);
    if (unexpected.length > 0) log(`  unexpected (not used): ${listSome(unexpected)}`);
  }
  return { file, loaded, missing, unexpected, ignored };
}
