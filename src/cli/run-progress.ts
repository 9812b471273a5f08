/** Hooks for each run of a trace (seg trace, seg demo). */
import { createProgress, formatDuration } from '../core/progress.js';
import type { TraceRunInfo } from '../experiments/convergence-trace.js';
import type { TrainHooks } from '../training/trainer.js';

/**
 * Seconds left for the whole trace: the iterations still to train (the current run's rest
 * plus every later run in full) at the rate measured since this process started training.
 * Wall time includes evaluations and checkpoints, so they are part of the estimate.
 */
export function traceEtaSeconds(p: { elapsedSeconds: number; trainedIterations: number; remainingIterations: number }): number {
  if (p.trainedIterations <= 0 || p.elapsedSeconds <= 0) return Infinity;
  return (p.remainingIterations * p.elapsedSeconds) / p.trainedIterations;
}

/** Per-run hooks: a progress line with the run's and the whole trace's ETA, and the command line recorded in each run's checkpoint. */
export function traceRunProgress(iterations: number): (run: TraceRunInfo) => Pick<TrainHooks, 'log' | 'onStep' | 'commandLine'> {
  let started: number | undefined;
  let trainedBefore = 0;
  return (run) => {
    const progress = createProgress({
      total: iterations,
      label: `[${run.index}/${run.total}] ${run.head}${run.lr !== undefined ? ` lr=${run.lr}` : ''} s${run.seed}`,
    });
    let first: number | undefined;
    let trainedHere = 0;
    return {
      commandLine: process.argv.slice(1),
      log: (line) => progress.log(line),
      onStep: (s) => {
        started ??= Date.now();
        first ??= s.iteration - 1;
        const now = s.iteration - first;
        trainedBefore += now - trainedHere;
        trainedHere = now;
        const eta = traceEtaSeconds({
          elapsedSeconds: (Date.now() - started) / 1000,
          trainedIterations: trainedBefore,
          remainingIterations: iterations - s.iteration + (run.total - run.index) * iterations,
        });
        progress.update(s.iteration, { loss: s.loss, acc: s.trainAcc, trace_eta: formatDuration(eta) });
      },
    };
  };
}
