/** Hooks for each run of a trace (seg trace, seg demo). */
import { createProgress, formatDuration, type Progress, type ProgressOptions } from '../core/progress.js';
import type { TraceRunInfo } from '../experiments/convergence-trace.js';
import type { TrainHooks } from '../training/trainer.js';

/**
 * Seconds left for the whole trace: the iterations still to train (the current run's rest
 * plus every later run in full) at the rate measured since this process started training.
 * Wall time includes evaluations and checkpoints, so they are part of the estimate. Given the
 * current run's own estimate (its progress line's ETA, `currentRunSeconds` for its
 * `currentRunRemaining` iterations), that part is taken from it, so the trace's ETA is never
 * less than the run's.
 */
export function traceEtaSeconds(p: {
  elapsedSeconds: number;
  trainedIterations: number;
  remainingIterations: number;
  currentRunSeconds?: number;
  currentRunRemaining?: number;
}): number {
  if (p.trainedIterations <= 0 || p.elapsedSeconds <= 0) return Infinity;
  const perIteration = p.elapsedSeconds / p.trainedIterations;
  if (p.currentRunSeconds === undefined || p.currentRunRemaining === undefined) return p.remainingIterations * perIteration;
  return p.currentRunSeconds + (p.remainingIterations - p.currentRunRemaining) * perIteration;
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
    let runStarted: { at: number; iteration: number } | undefined;
    let trainedHere = 0;
    return {
      commandLine: process.argv.slice(1),
      log: (line) => (progress !== undefined ? progress.log(line) : stream.write(`${line}\n`)),
      onStep: (s) => {
        started ??= Date.now();
        first ??= s.iteration - 1;
        runStarted ??= { at: Date.now(), iteration: s.iteration };
        progress ??= createProgress({ total: iterations, label, start: s.iteration, stream });
        const now = s.iteration - first;
        trainedBefore += now - trainedHere;
        trainedHere = now;
        // The run's own ETA, as its progress line computes it (rate since its first step here).
        const runSeconds = (Date.now() - runStarted.at) / 1000;
        const runDone = s.iteration - runStarted.iteration;
        const runLeft = iterations - s.iteration;
        const eta = traceEtaSeconds({
          elapsedSeconds: (Date.now() - started) / 1000,
          trainedIterations: trainedBefore,
          remainingIterations: runLeft + (run.total - run.index) * iterations,
          ...(runDone > 0 && runSeconds > 0 ? { currentRunSeconds: (runLeft * runSeconds) / runDone, currentRunRemaining: runLeft } : {}),
        });
        progress.update(s.iteration, { loss: s.loss, acc: s.trainAcc, trace_eta: formatDuration(eta) });
      },
    };
  };
}
