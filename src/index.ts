/**
 * The public library API of seg: what a user needs to open a dataset, build or load a model,
 * train, evaluate, predict and compare heads. Everything else stays reachable through the
 * documented subpath exports (`seg/backend/*`, `seg/datasets/*`, ...; see docs/ARCHITECTURE.md),
 * which carry no stability promise. The CLI (`seg`) is a thin layer over the same modules.
 */
export { tf } from './backend/tf.js';
export { SegError, isUserError } from './core/errors.js';
export { type BackendChoice, type BackendSelection, selectBackend, describeSelection } from './backend/select-backend.js';
export { type BackendTraits, activeBackendTraits, backendTraits } from './backend/backend-traits.js';

// Data
export type { Dataset } from './datasets/dataset.js';
export { openDataset } from './datasets/open-dataset.js';
export { VOC_CLASSES } from './datasets/classes.js';
export { VOID_LABEL } from './image/types.js';
export type { Sample } from './datasets/types.js';
export { readLabelPng, writeLabelPng } from './image/label-png.js';
export { vocColormap } from './image/colormap.js';
export { type Normalization, IMAGENET_NORMALIZATION } from './data-loading/normalize.js';
export { makeSynthDataset } from './dataset-makers/synth-dataset.js';
export { makeFashionDataset } from './dataset-makers/fashion-dataset.js';
export { type CheckReport, checkDataset, formatCheckReport } from './datasets/dataset-check.js';
export { downloadVoc2012 } from './datasets/voc-download.js';

// Model
export type { ModelConfig } from './segmentation/deeplab-spec.js';
export { type SegmentationModel, createModel } from './segmentation/model.js';
export { type ModelDescription, describeModel } from './segmentation/describe-model.js';
export type { BackboneDefinition, BackboneFeatures, BackboneOptions, OutputStride, StageTap } from './backbones/backbone.js';
export { registerBackbone } from './backbones/registry.js';
export type { DecoderDefinition, DecoderInput, DecoderOutput } from './decoders/decoder.js';
export { registerDecoder } from './decoders/registry.js';

// Heads
export { type HeadSpec, parseHeadSpec, formatHeadSpec } from './heads/head-spec.js';
export { type Head, createHead } from './heads/head.js';

// Checkpoints and export
export { type TrainedModel, loadTrainedModel } from './checkpoint/load-model.js';
export { importPretrainedBackbone } from './checkpoint/pretrained-import.js';
export { importSegmentationWeights } from './checkpoint/segmentation-import.js';
export { resolveCheckpointSource, resolvePretrainedSource } from './checkpoint/named-weights.js';
export { exportCheckpoint } from './export/export-checkpoint.js';

// Training
export { type TrainConfig, type FlatTrainConfig, DEFAULT_TRAIN_CONFIG, nestTrainConfig } from './training/train-config.js';
export { type TrainHooks, type TrainResult, train } from './training/trainer.js';
export { NonFiniteError } from './training/non-finite-error.js';

// Inference and evaluation
export { type PredictOptions, predictMask } from './inference/inference.js';
export { type Predictor, openPredictor } from './inference/predictor.js';
export type { EngineCapabilities, EngineFactory, InferenceEngine } from './inference/engines/engine.js';
export { engineNames, registerEngine } from './inference/engines/registry.js';
export { tfjsEngine } from './inference/engines/tfjs.js';
export { type EvaluationResult, evaluateModel, evaluatePredictions } from './inference/evaluate.js';
export { type PredictFilesResult, predictFiles } from './inference/predict-files.js';

// Metrics
export { ConfusionMatrix } from './metrics/confusion-matrix.js';
export { type SegMetrics, computeMetrics } from './metrics/segmentation-metrics.js';
export { formatMetricsTable } from './metrics/metrics-format.js';

// Head comparison
export { type TraceOptions, type TraceResult, runTrace } from './experiments/convergence-trace.js';
export type { Comparison } from './experiments/compare.js';
export { compareTraceDir } from './experiments/compare-trace-dir.js';
export { formatComparisonTable } from './experiments/compare-format.js';
