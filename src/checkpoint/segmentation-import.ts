/**
 * A torchvision DeepLabV3 state dict (`deeplabv3_resnet50/101`, e.g. the COCO-with-VOC-labels
 * weights, as `.pth` or safetensors) made into a ready seg checkpoint: the model config is
 * read off the tensors (ResNet depth from the block counts, width from conv1, classes from
 * the classifier), the output stride is torchvision's 8 unless asked otherwise, the head is
 * softmax (what torchvision trained), the normalisation ImageNet's and the class names VOC's
 * for 21 classes. Every model weight must be in the file with its shape.
 *
 * `aux_classifier.*` (torchvision's FCNHead on layer3, `aux_loss=True`, as in the COCO-VOC
 * weights) makes a model with the aux classifier (`auxClassifier`), so those keys load like the
 * rest and every tensor of the file is used (inference ignores the aux head; `seg train
 * --aux-loss` trains it).
 */
import { SegError } from '../core/errors.js';
import { tf } from '../backend/tf.js';
import { parseHeadSpec } from '../heads/head-spec.js';
import type { WeightSpec } from '../nn/layer-spec.js';
import { type BackboneName, OUTPUT_STRIDES, type OutputStride } from '../backbones/backbone.js';
import type { ModelConfig } from '../segmentation/deeplab-spec.js';
import { createModelWithWeights, type SegmentationModel } from '../segmentation/model.js';
import { VOC_CLASSES } from '../datasets/classes.js';
import { IMAGENET_NORMALIZATION, type Normalization } from '../data-loading/normalize.js';
import { saveCheckpoint } from './checkpoint.js';
import { type SafeTensor, toFloat32 } from './safetensors.js';
import { readStateDict } from './state-dict-file.js';
import { formatShape, oihwToHwio, sameShape, torchShape } from './weight-layout.js';

export const AUX_PREFIX = 'aux_classifier.';

export interface SegmentationImportOptions {
  /** torchvision's DeepLabV3 runs at output stride 8 (the default); 16 gives another model. */
  outputStride?: OutputStride;
  /** Class names (default: the 21 VOC classes for a 21-class model; required otherwise). */
  classNames?: readonly string[];
  normalization?: Normalization;
  /** Provenance recorded in the checkpoint's config.json `training` field (name, url, hash, published metrics). */
  source?: Record<string, unknown>;
  commandLine?: string | readonly string[];
  log?: (line: string) => void;
}

export interface SegmentationImportReport {
  file: string;
  dir: string;
  model: ModelConfig;
  /** Keys left out: `aux_classifier.*` of an incomplete aux head (none for torchvision's files). */
  dropped: string[];
}

function blockCount(tensors: Map<string, SafeTensor>, layer: string): number {
  let n = 0;
  while (tensors.has(`backbone.${layer}.${n}.conv1.weight`)) n++;
  return n;
}

const DEPTHS: Record<string, BackboneName> = {
  'basic:2': 'resnet18',
  'basic:6': 'resnet34',
  'bottleneck:6': 'resnet50',
  'bottleneck:23': 'resnet101',
};

/** The model a torchvision DeepLabV3 state dict holds (the output stride is not in the weights). */
export function inferSegmentationConfig(file: string, tensors: Map<string, SafeTensor>, outputStride: OutputStride = 8): ModelConfig {
  const conv1 = tensors.get('backbone.conv1.weight');
  const classifier = tensors.get('classifier.4.weight');
  if (conv1 === undefined || classifier === undefined || !tensors.has('classifier.0.convs.0.0.weight')) {
    const imagenet = tensors.has('conv1.weight') && ![...tensors.keys()].some((k) => k.startsWith('backbone.'));
    const fcn = tensors.has('backbone.conv1.weight') && tensors.has('classifier.0.weight');
    throw new SegError(
      imagenet
        ? `${file}: an ImageNet ResNet (a backbone, no segmentation head); use it to start training: seg train --pretrained ${file}`
        : fcn
          ? `${file}: a torchvision FCN model (classifier.0 is a plain conv), not DeepLabV3; seg imports deeplabv3_resnet* weights`
          : `${file}: not a torchvision DeepLabV3 state dict (expected backbone.conv1.weight, classifier.0.convs.0.0.weight and classifier.4.weight)`,
      file,
    );
  }
  const kind = tensors.has('backbone.layer1.0.conv3.weight') ? 'bottleneck' : 'basic';
  const layer3 = blockCount(tensors, 'layer3');
  const backbone = DEPTHS[`${kind}:${layer3}`];
  if (backbone === undefined) {
    throw new SegError(`${file}: a ResNet with ${layer3} ${kind} blocks in layer3; seg has ResNet-18/34/50/101 (2, 6, 6, 23 blocks)`, file);
  }
  if (!OUTPUT_STRIDES.includes(outputStride))
    throw new SegError(`output stride ${outputStride}: expected one of ${OUTPUT_STRIDES.join(', ')}`);
  return {
    backbone,
    outputStride,
    width: (conv1.shape[0] as number) / 64,
    numClasses: classifier.shape[0] as number,
    multiGrid: false,
    // torchvision's aux_loss=True models (the COCO-VOC weights) carry the FCNHead on layer3.
    ...(tensors.has(`${AUX_PREFIX}0.weight`) ? { auxClassifier: true as const } : {}),
  };
}

/** A model holding the file's weights; every model weight must be there with its torchvision shape. */
export function modelFromStateDict(
  file: string,
  tensors: Map<string, SafeTensor>,
  config: ModelConfig,
): { model: SegmentationModel; dropped: string[] } {
  const used = new Set<string>();
  const value = (w: WeightSpec): Float32Array => {
    const t = tensors.get(w.name);
    if (t === undefined) throw new SegError(`${file}: ${w.name} is missing; the file is not a complete ${config.backbone} DeepLabV3`, file);
    const expected = torchShape(w.shape);
    if (!sameShape(t.shape, expected)) {
      throw new SegError(
        `${file}: ${w.name} has shape ${formatShape(t.shape)}, a ${config.backbone} DeepLabV3 at width ${config.width} expects ${formatShape(expected)}`,
        file,
      );
    }
    used.add(w.name);
    return oihwToHwio(toFloat32(t), t.shape);
  };
  const model = createModelWithWeights(config, value);
  const dropped: string[] = [];
  const unexpected: string[] = [];
  let batchesTracked: number | undefined;
  for (const [key, t] of tensors) {
    if (used.has(key)) continue;
    const bnOfModel = key.endsWith('.num_batches_tracked') && (config.auxClassifier === true || !key.startsWith(AUX_PREFIX));
    if (bnOfModel) batchesTracked ??= Number(toFloat32(t)[0] ?? 0);
    else if (key.startsWith(AUX_PREFIX)) dropped.push(key);
    else unexpected.push(key);
  }
  if (unexpected.length > 0) {
    model.dispose();
    throw new SegError(
      `${file}: ${unexpected.length} tensors have no place in a ${config.backbone} DeepLabV3 (${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', ...' : ''})`,
      file,
    );
  }
  model.batchesTracked = batchesTracked ?? 0;
  return { model, dropped };
}

/** Import a torchvision DeepLabV3 weights file into a new seg checkpoint directory `dir`. */
export async function importSegmentationWeights(
  file: string,
  dir: string,
  options: SegmentationImportOptions = {},
): Promise<SegmentationImportReport> {
  const { tensors } = readStateDict(file);
  const config = inferSegmentationConfig(file, tensors, options.outputStride);
  const classNames = options.classNames ?? (config.numClasses === VOC_CLASSES.length ? VOC_CLASSES : undefined);
  if (classNames === undefined || classNames.length !== config.numClasses) {
    throw new SegError(
      `${file}: the model has ${config.numClasses} classes; give their names (a classes.txt with one name per line)${classNames !== undefined ? `, not ${classNames.length}` : ''}`,
      file,
    );
  }
  // Building the model needs a tfjs backend; the platform's default will do when none was chosen yet.
  await tf.ready();
  const { model, dropped } = modelFromStateDict(file, tensors, config);
  try {
    await saveCheckpoint(dir, {
      model,
      head: parseHeadSpec('softmax', config.numClasses),
      classNames,
      normalization: options.normalization ?? IMAGENET_NORMALIZATION,
      iteration: 0,
      trainingArgs: { importedFrom: file, ...(options.source ?? {}) },
      metrics: null,
      ...(options.commandLine !== undefined ? { commandLine: options.commandLine } : {}),
    });
  } finally {
    model.dispose();
  }
  if (dropped.length > 0) {
    options.log?.(
      `${file}: left out ${dropped.length} aux_classifier.* tensors (an incomplete aux classifier: ${AUX_PREFIX}0.weight is missing)`,
    );
  }
  return { file, dir, model: config, dropped };
}
