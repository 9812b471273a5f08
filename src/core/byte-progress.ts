/**
 * Progress of a transfer in bytes: on a TTY a bar rewritten in place
 * (`label [=====>    ] 45% 76.5/170.0 MB 5.1 MB/s ETA 18s`), otherwise a plain line at most
 * every few seconds and at the end.
 */
import { formatDuration } from './progress.js';

export interface ByteProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  plainEverySeconds?: number;
  /** Bar width in characters on a TTY. */
  barWidth?: number;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** A `(done, total)` callback that draws the progress of `label`; call `finish` once the transfer ended. */
export function byteProgress(
  label: string,
  options: ByteProgressOptions = {},
): { update: (done: number, total: number | undefined) => void; finish: () => void } {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const every = (options.plainEverySeconds ?? 5) * 1000;
  const width = options.barWidth ?? 24;
  let start: number | undefined;
  let startDone = 0;
  let lastDraw = 0;
  let last = '';
  const line = (done: number, total: number | undefined): string => {
    const elapsed = (Date.now() - (start ?? Date.now())) / 1000;
    const rate = elapsed > 0 ? (done - startDone) / elapsed : 0;
    const speed = `${megabytes(rate)} MB/s`;
    if (total === undefined || total <= 0) return `${label} ${megabytes(done)} MB ${speed}`;
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const bar = tty ? ` [${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]` : '';
    const eta = rate > 0 ? formatDuration((total - done) / rate) : '?';
    return `${label}${bar} ${Math.floor(fraction * 100)}% ${megabytes(done)}/${megabytes(total)} MB ${speed} ETA ${eta}`;
  };
  return {
    update(done, total) {
      if (start === undefined) {
        start = Date.now();
        startDone = done;
      }
      const now = Date.now();
      const end = total !== undefined && done >= total;
      if (!end && now - lastDraw < (tty ? 100 : every)) return;
      lastDraw = now;
      last = line(done, total);
      stream.write(tty ? `\r\x1b[K${last}` : `${last}\n`);
    },
    finish() {
      if (tty && last !== '') stream.write('\n');
    },
  };
}
