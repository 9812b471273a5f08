import { describe, expect, it } from 'vitest';
import { scheduledLearningRate, type LrSchedule } from '../../src/training/lr-schedule.js';
import { polyLearningRate } from '../../src/training/sgd.js';

/**
 * mmengine's iteration-based parameter schedulers, written out from
 * mmengine/optim/scheduler/param_scheduler.py: `_ParamScheduler.step()` and the chainable
 * `_get_value()` of LinearParamScheduler and PolyParamScheduler, driven as mmengine's runner
 * drives them (the constructor calls step() once; then one step() after each iteration). The
 * optimizer's param_group['lr'] is the shared state both schedulers read and write.
 */
interface Group {
  lr: number;
}

abstract class ParamScheduler {
  lastStep = -1;
  globalStep = -1;

  constructor(
    readonly group: Group,
    readonly begin: number,
    readonly end: number,
  ) {}

  /** `self.step()` of _ParamScheduler. */
  step(): void {
    this.globalStep += 1;
    if (this.begin <= this.globalStep && this.globalStep < this.end) {
      this.lastStep += 1;
      this.group.lr = this.getValue();
    }
  }

  abstract getValue(): number;
}

class LinearLR extends ParamScheduler {
  readonly totalIters: number;

  constructor(
    group: Group,
    readonly startFactor: number,
    readonly endFactor: number,
    begin: number,
    end: number,
  ) {
    super(group, begin, end);
    this.totalIters = end - begin - 1;
    this.step();
  }

  getValue(): number {
    if (this.lastStep === 0) return this.group.lr * this.startFactor;
    return (
      this.group.lr *
      (1 +
        (this.endFactor - this.startFactor) /
          (this.totalIters * this.startFactor + (this.lastStep - 1) * (this.endFactor - this.startFactor)))
    );
  }
}

class PolyLR extends ParamScheduler {
  readonly totalIters: number;

  constructor(
    group: Group,
    readonly etaMin: number,
    readonly power: number,
    begin: number,
    end: number,
  ) {
    super(group, begin, end);
    this.totalIters = end - begin - 1;
    this.step();
  }

  getValue(): number {
    if (this.lastStep === 0) return this.group.lr;
    return (this.group.lr - this.etaMin) * (1 - 1 / (this.totalIters - this.lastStep + 1)) ** this.power + this.etaMin;
  }
}

/** The lr of every iteration under mmengine's [LinearLR(R, 1.0, 0, N), PolyLR(0, p, N, T + 1)]. */
function mmengineSequence(s: LrSchedule): number[] {
  const group: Group = { lr: s.lr };
  const schedulers: ParamScheduler[] = [];
  if (s.warmupIters > 0) schedulers.push(new LinearLR(group, s.warmupRatio, 1.0, 0, s.warmupIters));
  schedulers.push(new PolyLR(group, 0, s.polyPower, s.warmupIters, s.iters + 1));
  const lrs: number[] = [];
  for (let i = 0; i < s.iters; i++) {
    lrs.push(group.lr); // the lr this iteration's optimizer.step() uses
    for (const scheduler of schedulers) scheduler.step();
  }
  return lrs;
}

function segSequence(s: LrSchedule): number[] {
  return Array.from({ length: s.iters }, (_, i) => scheduledLearningRate(s, i));
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    const e = expected[i] as number;
    expect(Math.abs(v - e), `iteration ${i}: ${v} vs ${e}`).toBeLessThanOrEqual(1e-12 * Math.max(1e-30, Math.abs(e)) + 1e-18);
  });
}

describe('scheduledLearningRate', () => {
  it("matches mmengine's LinearLR + PolyLR chain, iteration by iteration", () => {
    const cases: LrSchedule[] = [
      { lr: 0.01, iters: 40, polyPower: 0.9, warmupIters: 10, warmupRatio: 1e-6 },
      { lr: 0.05, iters: 100, polyPower: 0.9, warmupIters: 25, warmupRatio: 0.1 },
      { lr: 0.007, iters: 30, polyPower: 1.0, warmupIters: 2, warmupRatio: 1 / 3 },
      { lr: 0.1, iters: 12, polyPower: 0.9, warmupIters: 12, warmupRatio: 0.5 },
      { lr: 0.02, iters: 20, polyPower: 0.9, warmupIters: 1, warmupRatio: 0.25 },
    ];
    for (const c of cases) expectClose(segSequence(c), mmengineSequence(c));
  });

  it('without warmup is the poly schedule seg always used (torchvision: lr * (1 - i / T)^p)', () => {
    const s: LrSchedule = { lr: 0.01, iters: 50, polyPower: 0.9, warmupIters: 0, warmupRatio: 1e-6 };
    expectClose(segSequence(s), mmengineSequence(s));
    for (let i = 0; i < s.iters; i++) expect(scheduledLearningRate(s, i)).toBe(polyLearningRate(0.01, i, 50, 0.9));
    expect(scheduledLearningRate(s, 49)).toBeGreaterThan(0);
  });

  it('hand-computed values: warmup 4 from 0.1 of lr 1, then poly power 1 over 6', () => {
    const s: LrSchedule = { lr: 1, iters: 10, polyPower: 1, warmupIters: 4, warmupRatio: 0.1 };
    // factors 0.1, 0.1 + 0.9/3, 0.1 + 2 * 0.9/3, 1; then 1 - k/6 for k = 0..5
    const expected = [0.1, 0.4, 0.7, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6];
    expectClose(segSequence(s), expected);
  });
});
