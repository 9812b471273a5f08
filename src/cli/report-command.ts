/** `seg report RUN|TRACE --out report.html`: one self-contained HTML page of a run or a trace. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { SegError } from '../core/errors.js';
import { writeFileAtomic } from '../core/durable-files.js';
import { progressCallback } from '../core/progress.js';
import { buildReport, DEFAULT_REPORT_IMAGES } from '../report/report.js';
import { REPORT_GENERATOR } from '../report/html-page.js';
import { addBackendOption, parseIntFlag, useBackend } from './options.js';

interface ReportFlags {
  out: string;
  data?: string;
  images: number;
  backend?: string;
}

/** A file at `out` that is not a seg report is never replaced. */
function checkReportTarget(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isFile()) throw new SegError(`--out ${out}: exists and is not a file`, '--out');
  const head = readFileSync(out, 'utf8').slice(0, 400);
  if (!head.includes(`<meta name="generator" content="${REPORT_GENERATOR}">`)) {
    throw new SegError(`--out ${out}: exists and is not a report seg wrote; choose another file (nothing was overwritten)`, '--out');
  }
}

export function registerReportCommand(program: Command): void {
  const cmd = program
    .command('report')
    .description(
      'one self-contained HTML page of a run (curves, per-class IoU, confusion matrix) or a trace (the heads compared, charts, every run)',
    )
    .argument('<dir>', 'a run folder (seg train --out) or a trace folder (seg trace --out)')
    .requiredOption('--out <file>', 'the HTML file to write (opens offline in any browser)')
    .option('--data <dir>', 'dataset root: also draw val images with ground truth and prediction (and compute missing confusion matrices)')
    .option('--images <n>', 'val images to draw with --data', parseIntFlag('--images', 0, 64), DEFAULT_REPORT_IMAGES);
  addBackendOption(cmd).action(async (dir: string, flags: ReportFlags) => {
    checkReportTarget(flags.out);
    if (flags.data !== undefined) await useBackend(flags.backend);
    const html = await buildReport(dir, {
      ...(flags.data !== undefined ? { data: flags.data, onProgress: progressCallback('report') } : {}),
      images: flags.images,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    writeFileAtomic(flags.out, html);
    process.stdout.write(`${flags.out}: report of ${dir} (${Math.ceil(Buffer.byteLength(html) / 1024)} KiB, self-contained)\n`);
  });
}
