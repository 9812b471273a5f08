/**
 * The error of a diverged run: a non-finite loss, or non-finite weights found at a save.
 * A SegError (the user fixes it with a lower learning rate), with a type of its own so a
 * caller running many runs (a convergence trace) can record the divergence and go on.
 */
import { SegError } from '../core/errors.js';

export class NonFiniteError extends SegError {
  /** The iteration whose step produced the non-finite value (1-based). */
  readonly iteration: number;
  /** What was found non-finite: the loss, or these weight tensors. */
  readonly tensors: readonly string[];

  constructor(message: string, iteration: number, tensors: readonly string[] = []) {
    super(message);
    this.name = 'NonFiniteError';
    this.iteration = iteration;
    this.tensors = tensors;
  }
}
