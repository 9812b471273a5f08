/**
 * Ctrl-C for long commands: the first SIGINT aborts the signal (the library saves a
 * checkpoint and returns); a second one, with the handler gone, ends the process as usual.
 */
export async function withInterrupt<T>(message: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => {
    process.stderr.write(`\ninterrupt: ${message} (Ctrl-C again to quit without saving)\n`);
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    return await work(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
