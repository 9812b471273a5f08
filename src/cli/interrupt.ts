/**
 * Ctrl-C, SIGTERM (schedulers, `docker stop`) and SIGHUP for long commands: the first one
 * aborts the signal (the library saves a checkpoint and returns) and the process then exits
 * with 128 + the signal's number, as a shell reports it; a second one, with the handlers
 * gone, ends the process as usual.
 */
import { constants } from 'node:os';

export const SAVE_ON_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function withInterrupt<T>(message: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handlers = SAVE_ON_SIGNALS.map((name) => {
    const handler = (): void => {
      if (received !== undefined) return;
      received = name;
      for (const [n, h] of handlers) process.removeListener(n, h);
      process.stderr.write(
        `\ninterrupt (${name}): ${message} (${name === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit without saving)\n`,
      );
      controller.abort(name);
    };
    return [name, handler] as const;
  });
  for (const [name, handler] of handlers) process.once(name, handler);
  try {
    const result = await work(controller.signal);
    if (received !== undefined) process.exitCode = 128 + constants.signals[received];
    return result;
  } finally {
    for (const [name, handler] of handlers) process.removeListener(name, handler);
  }
}
