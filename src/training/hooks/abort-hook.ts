/** Stops the loop before the next step once `signal` is aborted (Ctrl-C, SIGTERM in the CLI); the checkpoint hook then saves. */
import type { TrainHook, TrainRun } from './train-hook.js';

export class AbortHook implements TrainHook {
  constructor(private readonly signal: AbortSignal) {}

  beforeTrainIter(run: TrainRun): void {
    if (this.signal.aborted) run.stopReason = 'interrupted';
  }
}
