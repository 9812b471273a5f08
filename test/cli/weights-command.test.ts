/** seg weights, --pretrained NAME|FILE.pth and --checkpoint NAME on the command line, against a loopback server. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { makeSynthDataset } from '../../src/dataset-makers/synth-dataset.js';
import { type LoopbackServer, redirect, serveBytes, startLoopbackServer } from '../core/loopback-server.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const FIXTURES = join(__dirname, '..', 'fixtures', 'pth');
const small = [
  '--backbone',
  'resnet18',
  '--width',
  '0.125',
  '--crop',
  '32',
  '--batch',
  '2',
  '--eval-limit',
  '1',
  '--iters',
  '1',
  '--backend',
  'wasm',
];

let dir: string;
let data: string;
let server: LoopbackServer;
const saved = { ...process.env };

beforeAll(async () => {
  dir = tempDir('seg-weights-cli-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 4, val: 2, size: 36, seed: 1 })).root;
  const stem = join(dir, 'stem.safetensors');
  // conv1 + bn1 of a width-0.125 ResNet-18, as a timm file on the hub would hold them
  writeSafetensors(
    stem,
    new Map([
      ['conv1.weight', { shape: [8, 3, 7, 7], data: Float32Array.from({ length: 8 * 3 * 49 }, (_, i) => i * 1e-4) }],
      ['bn1.weight', { shape: [8], data: new Float32Array(8).fill(1) }],
    ]),
  );
  const bytes = fs.readFileSync(stem);
  server = await startLoopbackServer({
    '/timm/resnet18.a1_in1k/resolve/main/model.safetensors': redirect('/blob/r18', {
      'x-linked-etag': `"${createHash('sha256').update(bytes).digest('hex')}"`,
    }),
    '/blob/r18': serveBytes(bytes),
    '/models/deeplabv3_resnet50_coco-cd0a2569.pth': serveBytes(fs.readFileSync(join(FIXTURES, 'deeplabv3_tiny.pth'))),
  });
  process.env.SEG_HOME = join(dir, 'home');
  process.env.HF_ENDPOINT = server.url;
  process.env.SEG_TORCHVISION_MIRROR = `${server.url}/models`;
});

afterAll(async () => {
  process.env = saved;
  await server.close();
  removeTempDirs();
});

describe('seg weights', () => {
  it('imports a torchvision DeepLabV3 .pth into a checkpoint that seg predict runs', async () => {
    const ckpt = join(dir, 'coco-tiny');
    const r = await runSeg(['weights', 'import', join(FIXTURES, 'deeplabv3_tiny.pth'), '--out', ckpt]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /wrote .*coco-tiny: resnet18 DeepLabV3, output stride 8, 21 classes, aux classifier \(training only\), softmax head, ImageNet normalisation/,
    );
    expect(r.err).not.toMatch(/left out/);
    const again = await runSeg(['weights', 'import', join(FIXTURES, 'deeplabv3_tiny.pth'), '--out', ckpt]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already holds a checkpoint; choose a new folder \(nothing was overwritten\)/);

    const photos = join(dir, 'photos');
    fs.mkdirSync(photos);
    await sharp({ create: { width: 23, height: 17, channels: 3, background: { r: 200, g: 30, b: 90 } } })
      .jpeg()
      .toFile(join(photos, 'a.jpg'));
    const masks = join(dir, 'masks');
    const p = await runSeg([
      'predict',
      '--checkpoint',
      ckpt,
      '--input',
      photos,
      '--output',
      masks,
      '--backend',
      'wasm',
      '--engine',
      'tfjs',
    ]);
    expect(p.code, p.err).toBe(0);
    expect((await sharp(join(masks, 'a.png')).metadata()).width).toBe(23);
  });

  it('explains files it will not import', async () => {
    const stem = await runSeg(['weights', 'import', join(FIXTURES, 'resnet_stem.pth'), '--out', join(dir, 'x')]);
    expect(stem.code).toBe(1);
    expect(stem.err).toMatch(/an ImageNet ResNet \(a backbone, no segmentation head\); use it to start training: seg train --pretrained/);
    const evil = await runSeg(['weights', 'import', join(FIXTURES, 'evil_system.pth'), '--out', join(dir, 'y')]);
    expect(evil.code).toBe(1);
    expect(evil.err).toMatch(/^error: .*evil_system\.pth: refused to unpickle 'posix\.system'/);
    expect(fs.existsSync(join(dir, 'y'))).toBe(false);
  });

  it('train --pretrained reads a torchvision .pth and downloads a timm name into SEG_HOME', async () => {
    const pth = await runSeg([
      'train',
      '--data',
      data,
      ...small,
      '--pretrained',
      join(FIXTURES, 'resnet_stem.pth'),
      '--out',
      join(dir, 'run-pth'),
    ]);
    expect(pth.code, pth.err).toBe(0);
    expect(pth.err).toMatch(/resnet_stem\.pth: 5 tensors loaded, \d+ missing, 0 unexpected/);
    const named = await runSeg(['train', '--data', data, ...small, '--pretrained', 'timm:resnet18', '--out', join(dir, 'run-timm')]);
    expect(named.code, named.err).toBe(0);
    expect(named.err).toMatch(
      /downloading timm:resnet18\.a1_in1k from http:\/\/127\.0\.0\.1:\d+\/timm\/resnet18\.a1_in1k\/resolve\/main\/model\.safetensors/,
    );
    expect(named.err).toMatch(/timm-resnet18\.a1_in1k\.safetensors: 2 tensors loaded/);
    expect(fs.existsSync(join(dir, 'home', 'weights', 'timm-resnet18.a1_in1k.safetensors'))).toBe(true);
    const list = await runSeg(['weights', 'list', '--json']);
    const rows = JSON.parse(list.out) as { name: string; cached: boolean }[];
    expect(rows.find((r) => r.name === 'timm:resnet18.a1_in1k')?.cached).toBe(true);
    expect(rows.find((r) => r.name === 'torchvision:resnet101')?.cached).toBe(false);
  });

  it('--checkpoint NAME downloads and checks the hash: a wrong file is refused, naming URL and cache path', async () => {
    const r = await runSeg([
      'predict',
      '--checkpoint',
      'torchvision:deeplabv3_resnet50',
      '--input',
      dir,
      '--output',
      join(dir, 'm2'),
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error: cannot download http:\/\/127\.0\.0\.1:\d+\/models\/deeplabv3_resnet50_coco-cd0a2569\.pth to .*home\/weights\/deeplabv3_resnet50_coco-cd0a2569\.pth: the file is not the one expected: its SHA-256 is [0-9a-f]{64}, expected one starting with cd0a2569/,
    );
    expect(fs.readdirSync(join(dir, 'home', 'weights')).filter((f) => f.startsWith('deeplabv3'))).toEqual([]);
    const unknown = await runSeg(['weights', 'download', 'timm:resnet18.nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/timm has no 'nope' weights for resnet18/);
  });
});
