/** The public library API of seg. The CLI (`seg`) is a thin layer over these. */
export { tf } from './engine/tf.js';
export { SegError, isUserError } from './errors.js';
export { Rng, type RngState } from './random.js';
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
export { createProgress, type Progress, type ProgressOptions } from './progress.js';
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
export { type Head, type HeadLossAndGradient, VOID_LABEL, createHead } from './heads/head.js';
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
} from './engine/safetensors.js';
