/**
 * The one error type for user mistakes (missing file, corrupt image, bad flag, wrong
 * checkpoint...). Its message names the file or flag and says how to fix it. The CLI
 * prints `error: <message>` for it and exits non-zero without a stack trace; any other
 * error is a bug and keeps its stack.
 */
export class SegError extends Error {
  /** The file or flag the problem is about, when there is one. */
  readonly subject: string | undefined;

  constructor(message: string, subject?: string) {
    super(message);
    this.name = 'SegError';
    this.subject = subject;
  }
}

/** True for errors meant for the user (SegError), false for bugs. */
export function isUserError(err: unknown): err is SegError {
  return err instanceof SegError;
}

/** "got X, expected one of A, B, C": the shape of every enum-like validation message. */
export function expectedOneOf(what: string, got: string, allowed: readonly string[]): SegError {
  return new SegError(`${what}: got '${got}', expected one of ${allowed.join(', ')}`, what);
}
