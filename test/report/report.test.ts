/**
 * seg report: the page of a run and of a trace, checked as HTML and in a real headless
 * Chromium (Debian's `chromium`, driven by playwright-core): it loads offline with no console
 * error and no request leaving the file, and its charts and images are present and sized.
 * Skipped, with the reason, where Chromium is absent.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainFlat as train } from '../training/tiny-run.js';
import { tf } from '../../src/backend/tf.js';
import { runTrace } from '../../src/experiments/convergence-trace.js';
import { buildReport } from '../../src/report/report.js';
import { DEFAULT_TRAIN_CONFIG, type FlatTrainConfig } from '../../src/training/train-config.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { runSeg } from '../cli/run-cli.js';

const CHROMIUM = process.env['SEG_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`test/report: the Chromium checks are skipped: no browser at ${CHROMIUM} (apt-get install chromium, or set SEG_CHROMIUM)`);

let root: string;
let data: string;

function base(): Omit<FlatTrainConfig, 'head' | 'seed' | 'out'> {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    data,
    backbone: 'resnet18',
    width: 0.125,
    crop: 32,
    batch: 2,
    iters: 4,
    lr: 0.02,
    evalEvery: 2,
    saveEvery: 2,
    logEvery: 1,
  };
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  root = mkdtempSync(join(tmpdir(), 'seg-report-'));
  data = (await makeSynthDataset({ out: join(root, 'synth'), train: 4, val: 2, size: 32, seed: 8 })).root;
  (await train({ ...base(), head: 'softmax', seed: 0, out: join(root, 'run'), saveBest: 'mIoU' })).model.dispose();
  const traced = await runTrace({ heads: ['softmax', 'egb'], seeds: [0], out: join(root, 'trace'), base: base() });
  expect(traced.interrupted).toBe(false);
});

interface PageCheck {
  errors: string[];
  external: string[];
  images: { cls: string; width: number; height: number; natural: number; complete: boolean }[];
  text: string;
}

/** Open a page in headless Chromium with nothing but the file itself allowed. */
async function openInChromium(file: string, screenshot?: string): Promise<PageCheck> {
  const profile = mkdtempSync(join(tmpdir(), 'seg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      external.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const images = await page.$$eval('img', (els) =>
      els.map((el) => {
        // A DOM <img> (the test's tsconfig has no DOM types).
        const img = el as unknown as {
          className: string;
          naturalWidth: number;
          complete: boolean;
          getBoundingClientRect(): { width: number; height: number };
        };
        const box = img.getBoundingClientRect();
        return { cls: img.className, width: box.width, height: box.height, natural: img.naturalWidth, complete: img.complete };
      }),
    );
    const text = (await page.textContent('body')) ?? '';
    if (screenshot !== undefined) await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, external, images, text };
  } finally {
    await context.close();
  }
}

describe('seg report', () => {
  it('a run: curves, per-class IoU of the last and best evaluation, confusion heatmap, val images; self-contained', async () => {
    const html = await buildReport(join(root, 'run'), { data, images: 2 });
    expect(html).not.toMatch(/(src|href)="(https?:|\/\/)/);
    expect(html.match(/<img class="chart"/g)).toHaveLength(3);
    expect(html.match(/<img class="heatmap"/g)).toHaveLength(1);
    expect(html.match(/<img class="sample"/g)).toHaveLength(2);
    expect(html).toContain('best evaluation (iteration');
    expect(html).toContain('best checkpoint: ');
    const file = join(root, 'run.html');
    writeFileSync(file, html);
    if (!haveChromium) return;
    const page = await openInChromium(file);
    expect(page.errors).toEqual([]);
    expect(page.external).toEqual([]);
    expect(page.images).toHaveLength(6);
    for (const img of page.images) {
      expect(img.complete && img.natural > 0, img.cls).toBe(true);
      expect(img.width, img.cls).toBeGreaterThan(50);
      expect(img.height, img.cls).toBeGreaterThan(20);
    }
    expect(page.text).toContain('Per-class IoU');
  });

  it('a trace: the comparison as seg compare prints it, its charts, one section per run (seg report CLI)', async () => {
    const out = join(root, 'trace.html');
    const r = await runSeg(['report', join(root, 'trace'), '--out', out]);
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(out, 'utf8');
    const compare = await runSeg(['compare', join(root, 'trace'), '--no-charts']);
    const table = compare.out.trim().split('\n')[2] as string; // a row of the table
    expect(html).toContain(table.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    expect(html.match(/<details/g)).toHaveLength(2);
    // A file seg did not write is never replaced.
    const mine = join(root, 'mine.html');
    writeFileSync(mine, '<html>my notes</html>');
    const refused = await runSeg(['report', join(root, 'trace'), '--out', mine]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--out .*mine\.html: exists and is not a report seg wrote/);
    expect(readFileSync(mine, 'utf8')).toBe('<html>my notes</html>');
    expect((await runSeg(['report', root, '--out', join(root, 'x.html')])).err).toMatch(/neither a run folder/);
    if (!haveChromium) return;
    const page = await openInChromium(out);
    expect(page.errors).toEqual([]);
    expect(page.external).toEqual([]);
    const charts = page.images.filter((i) => i.cls === 'chart');
    // the trace's two charts, and 3 per run (the sections are open or closed: a closed one's images are not laid out)
    expect(charts.length).toBe(2 + 2 * 3);
    for (const img of page.images) expect(img.complete && img.natural > 0, img.cls).toBe(true);
    for (const img of charts.slice(0, 2)) expect(img.width).toBeGreaterThan(300);
    expect(page.text).toContain('Heads compared');
  });
});
