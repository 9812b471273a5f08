/**
 * The error of a diverged run: a non-finite loss or gradient norm, or non-finite weights found
 * at a save. A SegError (the user fixes it with a lower learning rate), with a type and fields
 * of its own so a caller running many runs (a convergence trace) can record the divergence
 * and go on without reading the message.
 */
import { SegError } from '../core/errors.js';

/** What was found non-finite. */
export type NonFiniteKind = 'loss' | 'gradient-norm' | 'weights';

export interface NonFiniteDetails {
  /** The iteration whose step produced the non-finite value (1-based). */
  iteration: number;
  what: NonFiniteKind;
  /** The non-finite loss or gradient norm (NaN or +-Infinity); NaN for weights. */
  value?: number;
  /** For `weights`: the tensors holding non-finite values. */
  tensors?: readonly string[];
}

export class NonFiniteError extends SegError {
  /** The iteration whose step produced the non-finite value (1-based). */
  readonly iteration: number;
  readonly what: NonFiniteKind;
  /** The non-finite loss or gradient norm; NaN for weights. */
  readonly value: number;
  /** The weight tensors found non-finite (empty unless `what` is weights). */
  readonly tensors: readonly string[];

  constructor(message: string, details: NonFiniteDetails) {
    super(message);
    this.name = 'NonFiniteError';
    this.iteration = details.iteration;
    this.what = details.what;
    this.value = details.value ?? Number.NaN;
    this.tensors = details.tensors ?? [];
  }
}
