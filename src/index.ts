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
