/** seg export, and seg eval / predict on both engines: same metrics and masks to the last digit. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { decodeOnnxModel } from '../../src/export/onnx-graph.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { loadLabelPng } from '../../src/image/label-png.js';
import { onnxRuntimeMissing, randomisedModel } from '../export/onnx-fixtures.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const missing = await onnxRuntimeMissing();
if (missing !== null) console.warn(`skipping the onnxruntime CLI tests: ${missing}`);

let dir: string;
let data: string;
let checkpoint: string;

beforeAll(async () => {
  dir = tempDir('seg-export-');
  // 45 px: not a multiple of the output stride, so padding and cropping are exercised.
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 1, val: 6, size: 45, seed: 4 })).root;
  await tf.setBackend('wasm');
  const model = randomisedModel(
    { backbone: 'resnet18', outputStride: 16, width: 0.25, numClasses: SYNTH_CLASSES.length, multiGrid: false },
    9,
  );
  checkpoint = join(dir, 'ckpt');
  await saveCheckpoint(checkpoint, {
    model,
    head: { kind: 'egb', boost: 'exp', alpha: 0.3, beta: 0 },
    classNames: SYNTH_CLASSES,
    normalization: IMAGENET_NORMALIZATION,
    iteration: 0,
  });
  model.dispose();
});
afterAll(removeTempDirs);

describe('seg export', () => {
  it('writes an ONNX file with the requested output and static size', async () => {
    const out = join(dir, 'fixed.onnx');
    const r = await runSeg([
      'export',
      '--checkpoint',
      checkpoint,
      '--out',
      out,
      '--head-output',
      'mask',
      '--fixed-size',
      '45',
      '45',
      '--backend',
      'wasm',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/wrote .*fixed.onnx .*mask/);
    const m = decodeOnnxModel(readFileSync(out));
    expect(m.graph?.output?.map((o) => o.name)).toEqual(['mask']);
    expect(m.metadataProps.find((p) => p.key === 'seg.head')?.value).toBe('egb:exp:alpha=0.3,beta=0');
    expect(m.metadataProps.find((p) => p.key === 'seg.padToStride')?.value).toBe('false');
    const padded = join(dir, 'padded.onnx');
    expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', padded, '--pad-to-stride', '--backend', 'wasm'])).code).toBe(0);
    const p = decodeOnnxModel(readFileSync(padded));
    expect(p.metadataProps.find((e) => e.key === 'seg.padToStride')?.value).toBe('true');
    expect(p.graph?.node?.some((n) => n.opType === 'Pad')).toBe(true);
  });

  it('turns bad flags into one-line errors', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['export', '--checkpoint', checkpoint, '--out', join(dir, 'x.onnx'), '--fixed-size', '45'],
        /--fixed-size: got '45', expected two integers/,
      ],
      [['export', '--checkpoint', join(dir, 'nowhere'), '--out', join(dir, 'x.onnx')], /no such checkpoint directory/],
      [['export', '--checkpoint', checkpoint, '--out', join(dir, 'x.onnx'), '--head-output', 'probs'], /--head-output/],
      [['eval', '--onnx', join(dir, 'x.onnx'), '--data', data, '--engine', 'tfjs'], /--onnx .* runs on onnxruntime/],
    ];
    for (const [args, message] of cases) {
      const r = await runSeg(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});

describe.skipIf(missing !== null)('seg eval / predict --engine onnxruntime', () => {
  it('reports the same metrics as --engine tfjs, from the checkpoint and from an exported file, with scales and flip', async () => {
    const onnx = join(dir, 'model.onnx');
    expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', onnx, '--backend', 'wasm'])).code).toBe(0);
    for (const extra of [[], ['--scales', '0.75,1.25', '--flip'], ['--pad-to-stride']]) {
      const evalWith = async (source: string[]): Promise<string> => {
        const r = await runSeg(['eval', ...source, '--data', data, '--json', '--backend', 'wasm', ...extra]);
        expect(r.code, r.err).toBe(0);
        return r.out;
      };
      const tfjs = await evalWith(['--checkpoint', checkpoint, '--engine', 'tfjs']);
      const ort = await evalWith(['--checkpoint', checkpoint, '--engine', 'onnxruntime']);
      const file = await evalWith(['--onnx', onnx]);
      const parsed = JSON.parse(tfjs) as { mIoU: number; images: number };
      expect(parsed.images).toBe(6);
      expect(parsed.mIoU).toBeGreaterThan(0);
      console.log(
        `mIoU ${extra.join(' ') || 'single scale'}: tfjs ${parsed.mIoU}, onnxruntime ${(JSON.parse(ort) as { mIoU: number }).mIoU}`,
      );
      expect(ort).toBe(tfjs); // every metric and per-class row, every digit
      // The same metrics; only what was scored differs (the file instead of the checkpoint and its iteration).
      const { checkpoint: _c, iteration: _i, ...fromCheckpoint } = JSON.parse(tfjs) as Record<string, unknown>;
      const { onnx: fileName, ...fromFile } = JSON.parse(file) as Record<string, unknown>;
      expect(fileName).toBe(onnx);
      expect(JSON.stringify(fromFile)).toBe(JSON.stringify(fromCheckpoint));
    }
    // A file exported with --pad-to-stride pads in its graph: it scores as --pad-to-stride does.
    const padded = join(dir, 'padded-eval.onnx');
    expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', padded, '--pad-to-stride', '--backend', 'wasm'])).code).toBe(0);
    const fromPadded = await runSeg(['eval', '--onnx', padded, '--data', data, '--json', '--backend', 'wasm']);
    const said = await runSeg(['eval', '--onnx', padded, '--data', data, '--limit', '1', '--backend', 'wasm']);
    expect(said.err).toContain('engine: onnxruntime (the .onnx file pads to the output stride)');
    const tfjsPadded = await runSeg([
      'eval',
      '--checkpoint',
      checkpoint,
      '--engine',
      'tfjs',
      '--pad-to-stride',
      '--data',
      data,
      '--json',
      '--backend',
      'wasm',
    ]);
    expect((JSON.parse(fromPadded.out) as { mIoU: number }).mIoU).toBe((JSON.parse(tfjsPadded.out) as { mIoU: number }).mIoU);
  });

  it('predicts the same masks as tfjs from an exported file', async () => {
    const onnx = join(dir, 'model.onnx');
    if (!existsSync(onnx)) expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', onnx])).code).toBe(0);
    const images = join(data, 'JPEGImages');
    const a = await runSeg([
      'predict',
      '--checkpoint',
      checkpoint,
      '--engine',
      'tfjs',
      '--input',
      images,
      '--output',
      join(dir, 'tfjs-masks'),
      '--backend',
      'wasm',
    ]);
    const b = await runSeg(['predict', '--onnx', onnx, '--input', images, '--output', join(dir, 'ort-masks'), '--backend', 'wasm']);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(b.err).toContain('engine: onnxruntime');
    const files = readdirSync(join(dir, 'tfjs-masks')).sort();
    expect(files).toHaveLength(7);
    expect(readdirSync(join(dir, 'ort-masks')).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(dir, 'ort-masks', f)).equals(readFileSync(join(dir, 'tfjs-masks', f))), f).toBe(true);
    // The masks are not trivially constant: the comparison sees several classes and boundaries.
    const classes = new Set<number>();
    for (const f of files) (await loadLabelPng(join(dir, 'tfjs-masks', f))).data.forEach((c) => classes.add(c));
    expect(classes.size).toBeGreaterThanOrEqual(3);
  });

  it('benchmarks inference on onnxruntime with the same JSON fields as tfjs', async () => {
    const args = ['bench', 'infer', '--width', '0.125', '--size', '32', '--batch', '2', '--steps', '1', '--json', '--backend', 'wasm'];
    const ort = await runSeg([...args, '--engine', 'onnxruntime', '--threads', '1']);
    const tfjs = await runSeg([...args, '--engine', 'tfjs']);
    expect(ort.code, ort.err).toBe(0);
    expect(tfjs.code, tfjs.err).toBe(0);
    const a = JSON.parse(ort.out) as Record<string, unknown>;
    const b = JSON.parse(tfjs.out) as Record<string, unknown>;
    expect(a['engine']).toBe('onnxruntime');
    expect(a['threads']).toBe(1);
    expect(b['engine']).toBe('tfjs');
    for (const key of Object.keys(b)) expect(a, key).toHaveProperty(key);
    expect(a['imagesPerSecond']).toBeGreaterThan(0);
    const train = await runSeg(['bench', 'train', '--engine', 'onnxruntime']);
    expect(train.err).toMatch(/only inference runs on onnxruntime/);
  });

  it('refuses a fixed-size file at another size and a file without logits', async () => {
    const fixed = join(dir, 'fixed32.onnx');
    expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', fixed, '--fixed-size', '32', '32'])).code).toBe(0);
    const r = await runSeg(['eval', '--onnx', fixed, '--data', data, '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\.jpg is 45x45, but .*fixed32\.onnx was exported with --fixed-size 32 32: it takes only 32x32 inputs/);
    const mask = join(dir, 'mask.onnx');
    expect((await runSeg(['export', '--checkpoint', checkpoint, '--out', mask, '--head-output', 'mask'])).code).toBe(0);
    const m = await runSeg(['eval', '--onnx', mask, '--data', data, '--backend', 'wasm']);
    expect(m.err).toMatch(/the graph ends in 'mask'; .* --head-output logits/);
  });
});
