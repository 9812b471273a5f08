/** Bounded concurrency for async work over an index range. */

/**
 * Run `work(i)` for i in 0..n-1 with at most `limit` in flight. Rejects with the first
 * error; after it, no new work starts.
 */
export async function runLimited(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < n) {
      try {
        await work(next++);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, n)) }, lane));
}
