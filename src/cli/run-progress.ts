/** Hooks for each run of a trace (seg trace, seg demo). */
import { createProgress } from '../core/progress.js';
import type { TraceRunInfo } from '../experiments/convergence-trace.js';
import type { TrainHooks } from '../training/trainer.js';

/** Per-run hooks: a progress line, and the command line recorded in each run's checkpoint. */
export function traceRunProgress(iterations: number): (run: TraceRunInfo) => Pick<TrainHooks, 'log' | 'onStep' | 'commandLine'> {
  return (run) => {
    const progress = createProgress({ total: iterations, label: `[${run.index}/${run.total}] ${run.head} s${run.seed}` });
    return {
      commandLine: process.argv.slice(1),
      log: (line) => progress.log(line),
      onStep: (s) => progress.update(s.iteration, { loss: s.loss, acc: s.trainAcc }),
    };
  };
}
