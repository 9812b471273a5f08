/**
 * Progress for long work: on a TTY one line rewritten in place (iteration, extra fields,
 * it/s, ETA); otherwise plain lines at most every `plainEverySeconds`.
 */
import { printable } from './printable.js';
export interface ProgressOptions {
  total: number;
  label: string;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  plainEverySeconds?: number;
  /** Start value (e.g. when resuming). */
  start?: number;
}

export interface Progress {
  /** Report that `done` of `total` units are finished; `fields` are shown as key=value. */
  update(done: number, fields?: Record<string, string | number>): void;
  /** Print a line without breaking the progress line. */
  log(line: string): void;
  finish(fields?: Record<string, string | number>): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

function formatFields(fields: Record<string, string | number> | undefined): string {
  if (fields === undefined) return '';
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v}`)
    .join(' ');
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const every = (options.plainEverySeconds ?? 10) * 1000;
  const start = Date.now();
  const startDone = options.start ?? 0;
  let lastPlain = 0;
  let lastLine = '';
  const render = (done: number, fields?: Record<string, string | number>): string => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = elapsed > 0 ? (done - startDone) / elapsed : 0;
    const eta = rate > 0 ? (options.total - done) / rate : Infinity;
    const extra = formatFields(fields);
    return `${options.label} ${done}/${options.total}${extra ? ' ' + extra : ''} ${rate.toFixed(2)} it/s ETA ${formatDuration(eta)}`;
  };
  return {
    update(done, fields) {
      lastLine = render(done, fields);
      if (tty) {
        stream.write(`\r\x1b[K${lastLine}`);
      } else if (Date.now() - lastPlain >= every || done >= options.total) {
        lastPlain = Date.now();
        stream.write(`${lastLine}\n`);
      }
    },
    log(line) {
      stream.write(tty ? `\r\x1b[K${line}\n${lastLine}` : `${line}\n`);
    },
    finish(fields) {
      const elapsed = (Date.now() - start) / 1000;
      const line = `${options.label} done in ${formatDuration(elapsed)}${fields ? ' ' + formatFields(fields) : ''}`;
      stream.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
  };
}

/** A `(done, total)` callback that creates its progress line on first use and finishes it at the end. */
export function progressCallback(label: string, stream?: ProgressOptions['stream']): (done: number, total: number) => void {
  let progress: Progress | undefined;
  return (done, total) => {
    // Callers report (0, total) before the first unit, so "done in" counts all of them.
    progress ??= createProgress({ total, label, plainEverySeconds: 5, start: done, ...(stream !== undefined ? { stream } : {}) });
    progress.update(done);
    if (done === total && total > 0) progress.finish();
  };
}

/**
 * Progress of the windows of one image after another (sliding-window inference of large
 * images): a line per image that takes at least `minWindows` windows, labelled with it.
 */
export function windowProgressCallback(
  label: string,
  minWindows = 4,
  stream?: ProgressOptions['stream'],
): (image: string, done: number, total: number) => void {
  let current: string | undefined;
  let progress: Progress | undefined;
  return (image, done, total) => {
    if (total < minWindows) return;
    if (image !== current || progress === undefined) {
      current = image;
      progress = createProgress({
        total,
        label: `${label} ${printable(image)} windows`,
        plainEverySeconds: 5,
        ...(stream !== undefined ? { stream } : {}),
      });
    }
    progress.update(done);
  };
}
