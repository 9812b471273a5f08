/**
 * The learning rate of each iteration: an optional linear warmup, then poly decay. In
 * mmengine's terms (iteration-based schedulers, `by_epoch=False`), for `warmupIters` N,
 * `warmupRatio` R, `iters` T and `polyPower` p:
 *
 *   param_scheduler = [
 *     LinearLR(start_factor=R, end_factor=1.0, begin=0, end=N),
 *     PolyLR(eta_min=0, power=p, begin=N, end=T + 1),
 *   ]
 *
 * LinearLR's closed form: lr = base * (R + (1 - R) * i / (N - 1)) for iteration i < N (it
 * reaches the base lr at i = N - 1; with N = 1 it stays at R). PolyLR then decays from the base lr over the remaining
 * iterations: lr = base * (1 - (i - N) / (T - N))^p. Without warmup (N = 0) this is the
 * poly schedule of DeepLab and torchvision's references, lr = base * (1 - i / T)^p (mmengine's
 * `end=T + 1`, so the last iteration's lr is not 0). A pure function of the iteration and the
 * run's settings: a resumed run continues the same sequence.
 */
import { polyLearningRate } from './sgd.js';

export interface LrSchedule {
  /** Base learning rate. */
  lr: number;
  /** Total iterations of the run. */
  iters: number;
  polyPower: number;
  /** Iterations of linear warmup (0: none). */
  warmupIters: number;
  /** The warmup's first factor (mmengine's `start_factor`), in [0, 1]. */
  warmupRatio: number;
}

/** mmseg's configs start their LinearLR warmups at 1e-6 of the base lr. */
export const DEFAULT_WARMUP_RATIO = 1e-6;

/** The learning rate of 0-based iteration `iteration` (the step about to run). */
export function scheduledLearningRate(s: LrSchedule, iteration: number): number {
  const n = s.warmupIters;
  // mmengine's LinearLR spans `end - begin - 1` steps: the factor is R at 0 and 1 at N - 1. A
  // one-iteration warmup never leaves R, and mmengine's chained PolyLR decays from there.
  const factor = (i: number): number => (n === 1 ? s.warmupRatio : s.warmupRatio + ((1 - s.warmupRatio) * i) / (n - 1));
  if (iteration < n) return s.lr * factor(iteration);
  return polyLearningRate(n > 0 ? s.lr * factor(n - 1) : s.lr, iteration - n, s.iters - n, s.polyPower);
}
