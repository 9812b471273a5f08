/** The public library API of seg. The CLI (`seg`) is a thin layer over these. */
export { tf } from './engine/tf.js';
export { SegError, isUserError } from './core/errors.js';
export { Rng, type RngState } from './core/random.js';
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendName,
  type BackendSelection,
  selectBackend,
  resolveBackendChoice,
  describeSelection,
} from './engine/backend.js';
export { conv2d, type Conv2dOptions } from './engine/conv2d.js';
export { createProgress, type Progress, type ProgressOptions } from './core/progress.js';
export {
  type HeadSpec,
  type HeadKind,
  type BoostKind,
  HEAD_KINDS,
  BOOST_KINDS,
  POW3_DEFAULT_ALPHA,
  parseHeadSpec,
  formatHeadSpec,
  headLabel,
  egbHeadSpec,
  defaultEgbAlpha,
} from './heads/head-spec.js';
export { type Head, type HeadLossAndGradient, createHead } from './heads/head.js';
export { VOID_LABEL } from './voc/types.js';
export { EXP_BOOST_MAX_LOGIT, POW3_BOOST_MAX_ABS_LOGIT, boostedOutput } from './heads/boost.js';
export { ConfusionMatrix, type LabelArray } from './metrics/confusion-matrix.js';
export { computeMetrics, type SegMetrics, type ClassMetrics } from './metrics/segmentation-metrics.js';
export { formatMetricsTable, formatMetricsMarkdown, formatPercent } from './metrics/metrics-format.js';
export {
  type SafeDtype,
  type SafeTensor,
  type SafeTensorData,
  type SafetensorsFile,
  type WritableTensor,
  SAFETENSORS_DTYPES,
  readSafetensors,
  parseSafetensors,
  toFloat32,
  writeSafetensors,
  serializeSafetensors,
} from './checkpoint/safetensors.js';
export {
  type LabelImage,
  type RgbImage,
  type Sample,
  type AugmentedSample,
  type Batch,
  type LoaderState,
} from './voc/types.js';
export { VOC_CLASSES, parseClassNames, readClassNames } from './voc/classes.js';
export { vocColormap } from './voc/colormap.js';
export { type Dataset, openDataset, resolveDatasetRoot, parseIdList } from './voc/dataset.js';
export { readLabelPng, loadLabelPng, decodeLabelPng, writeLabelPng, encodeLabelPng } from './voc/label-png.js';
export { decodeImage, resizeRgb, writeJpeg } from './voc/image-io.js';
export { loadSample } from './voc/sample.js';
export {
  type Normalization,
  IMAGENET_MEAN,
  IMAGENET_STD,
  IMAGENET_NORMALIZATION,
  meanPixel,
  normalizeImage,
  normalizeInto,
  denormalizeImage,
} from './voc/normalize.js';
export {
  type ImageLabelPair,
  type Transform,
  TRAIN_SCALES,
  applyTransforms,
  randomScale,
  scalePair,
  padTo,
  randomCrop,
  randomScaleCrop,
  cropPair,
  randomHorizontalFlip,
  flipPair,
  resizeLabelNearest,
} from './voc/transforms.js';
export {
  type Augmenter,
  type TrainAugmentOptions,
  DEFAULT_CROP,
  trainTransforms,
  createAugmenter,
  createTrainAugmenter,
  createEvalAugmenter,
} from './voc/augmenter.js';
export {
  type TrainLoader,
  type TrainLoaderOptions,
  type EvalLoader,
  type EvalLoaderOptions,
  type EvalSample,
  createTrainLoader,
  createEvalLoader,
  initialLoaderState,
} from './voc/batch-loader.js';
export { type MadeDataset, type SynthDatasetOptions, SYNTH_CLASSES, makeSynthDataset, drawSynthScene } from './voc/synth-dataset.js';
export { type FashionDatasetOptions, FASHION_CLASSES, DEFAULT_FASHION_SOURCE, makeFashionDataset } from './voc/fashion-dataset.js';
export { type CheckReport, type CheckProblem, type ClassCount, checkDataset, formatCheckReport } from './voc/dataset-check.js';
export { type LoaderBenchResult, benchmarkTrainLoader } from './bench/loader-benchmark.js';
export {
  type LayerSpec,
  type ConvSpec,
  type BatchNormSpec,
  type SequentialSpec,
  type ResidualSpec,
  type ConcatSpec,
  type ResizeSpec,
  type WeightSpec,
  leaves,
  layerWeights,
  weightSpecs,
  batchNormLayers,
} from './nn/layer-spec.js';
export {
  type BackboneName,
  type OutputStride,
  type BackboneOptions,
  type BackboneSpec,
  BACKBONE_NAMES,
  OUTPUT_STRIDES,
  MULTI_GRID,
  parseBackboneName,
  parseOutputStride,
  validateWidth,
  scaledChannels,
  resnetSpec,
} from './backbones/resnet.js';
export { type ForwardOptions, type LayerWeights, runLayers } from './nn/layer-forward.js';
export { type LayerCost, type StageCost, layerCost } from './nn/layer-cost.js';
export { type ModelConfig, type DeeplabSpec, asppRates, validateModelConfig, deeplabSpec } from './segmentation/deeplab-spec.js';
export { type SegmentationModel, createModel, createModelWithWeights } from './segmentation/model.js';
export { type ModelDescription, describeModel } from './segmentation/describe-model.js';
export { type PredictOptions, predictMask, predictScores, forwardPadded } from './inference/inference.js';
export { type CheckpointConfig, describeModelConfig, validateCheckpointConfig } from './checkpoint/checkpoint-config.js';
export {
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
  type LoadCheckpointOptions,
  saveCheckpoint,
  loadCheckpoint,
  loadCheckpointInto,
  readCheckpointConfig,
  modelStateDict,
} from './checkpoint/checkpoint.js';
export { type PretrainedImportReport, type PretrainedImportOptions, importPretrainedBackbone } from './checkpoint/pretrained-import.js';
export {
  type TraceCsvRow,
  TRACE_CSV_FILE,
  TRACE_CSV_COLUMNS,
  TRACE_CSV_HEADER,
  formatTraceCsv,
  parseTraceCsv,
  readTraceCsv,
  writeTraceCsv,
  groupTraceRuns,
} from './experiments/trace-csv.js';
export {
  type CompareOptions,
  type CompareTraceDirOptions,
  type Comparison,
  type HeadComparison,
  type RunComparison,
  type TraceDirComparison,
  DEFAULT_COMPARE_TARGET,
  DEFAULT_BASELINE_HEAD,
  compareTraces,
  compareTraceDir,
  loadTraceDir,
} from './experiments/compare.js';
export { formatComparisonTable, formatComparisonMarkdown } from './experiments/compare-format.js';
export { type ConvergenceChartFiles, miouChartSvg, lossChartSvg, writeConvergenceCharts } from './experiments/convergence-chart.js';
export { type ChartSeries, type LineChartOptions, type ReferenceLine, renderLineChartSvg, writeChartFiles } from './visualization/line-chart.js';
export { type SeedCurve, type BandPoint, aggregateSeedCurves, movingAverage } from './visualization/seed-curves.js';
export { type TrainConfig, DEFAULT_TRAIN_CONFIG, validateTrainConfig } from './training/train-config.js';
export { type TrainHooks, type TrainResult, train } from './training/trainer.js';
export { type StepOptions, type StepResult, trainStep } from './training/train-step.js';
export { MomentumSgd, type SgdOptions, polyLearningRate } from './training/sgd.js';
export { type TraceRow, type TrainTraceRow, type EvalTraceRow, readTrace, TRACE_FILE } from './training/run-log.js';
export { type RunState } from './training/run-checkpoint.js';
export { runCheckpointDir, resolveModelDir } from './checkpoint/run-layout.js';
export { type EvaluationResult, type EvaluateOptions, evaluateModel, evaluatePredictions } from './inference/evaluate.js';
export { type TrainedModel, loadTrainedModel } from './checkpoint/load-model.js';
export { type PredictFilesOptions, type PredictFilesResult, IMAGE_EXTENSIONS, predictFiles, overlayMask } from './inference/predict-files.js';
export { type TraceOptions, type TraceResult, type TraceHooks, runTrace, splitHeadList, traceRunDir } from './experiments/convergence-trace.js';
export { type DemoOptions, type DemoResult, DEMO_DEFAULTS, runDemo } from './experiments/demo.js';
export { type ModelBenchResult, benchmarkModel } from './bench/model-benchmark.js';
export { type ConvBenchCase, benchmarkConvOps } from './bench/ops-benchmark.js';
export { batchNormTrain, batchNormInfer } from './engine/batch-norm.js';
export { maxPool3x3s2, globalAvgPool } from './engine/pool.js';
export { resizeBilinear } from './engine/resize.js';
