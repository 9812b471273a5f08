/** Hooks for each run of a trace (seg trace, seg demo). */
import { createProgress, formatDuration, type Progress, type ProgressOptions } from '../core/progress.js';
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

/**
 * Per-run hooks: a progress line with the run's and the whole trace's ETA, and the command line
 * recorded in each run's checkpoint. The line starts at the run's first step, so a resumed run's
 * it/s and ETA count only the iterations trained in this process.
 */
export function traceRunProgress(
  iterations: number,
  stream: NonNullable<ProgressOptions['stream']> = process.stderr,
): (run: TraceRunInfo) => Pick<TrainHooks, 'log' | 'onStep' | 'commandLine'> {
  let started: number | undefined;
  let trainedBefore = 0;
  return (run) => {
    const label = `[${run.index}/${run.total}] ${run.head}${run.lr !== undefined ? ` lr=${run.lr}` : ''} s${run.seed}`;
    let progress: Progress | undefined;
    let first: number | undefined;
    let trainedHere = 0;
    return {
      commandLine: process.argv.slice(1),
      log: (line) => (progress !== undefined ? progress.log(line) : stream.write(`${line}\n`)),
      onStep: (s) => {
        started ??= Date.now();
        first ??= s.iteration - 1;
        progress ??= createProgress({ total: iterations, label, start: s.iteration, stream });
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
