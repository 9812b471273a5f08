/** Training wall time of a run: carried over from earlier segments, with evaluation time left out. */
export class WallClock {
  private segmentStart = performance.now();

  constructor(private carried: number) {}

  /** Seconds of training so far. */
  seconds(): number {
    return this.carried + (performance.now() - this.segmentStart) / 1000;
  }

  /** Run `work` without counting its time. */
  async exclude<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.segmentStart += performance.now() - started;
    }
  }
}
