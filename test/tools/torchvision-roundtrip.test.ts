/**
 * tools/torchvision_roundtrip.py: it always compiles; where a Python with torch and
 * torchvision is found ($SEG_PYTHON, python3, /usr/bin/python3), seg checkpoints go into
 * torchvision and back with equal logits, its heads give seg's losses and gradients, and
 * a torchvision-trained checkpoint loads in seg. Without torch those parts are skipped.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { readSafetensors, toFloat32, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { createHead } from '../../src/heads/head.js';
import { parseHeadSpec } from '../../src/heads/head-spec.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { Rng } from '../../src/core/random.js';

/** `npm test` checks the tool's losses and gradients against torch; `npm run test:slow` (SEG_SLOW_TESTS=1) also loads seg's weights into torchvision, trains there and comes back. */
const FULL = process.env['SEG_SLOW_TESTS'] === '1';
const SCRIPT = path.resolve('tools/torchvision_roundtrip.py');
const TOOLS = path.dirname(SCRIPT);

function runs(python: string, args: string[]): boolean {
  return spawnSync(python, args, { encoding: 'utf8' }).status === 0;
}

const candidates = [process.env['SEG_PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string => p !== undefined && p !== '');
const anyPython = candidates.find((p) => runs(p, ['-c', 'import sys']));
const torchPython = candidates.find((p) => runs(p, ['-c', 'import torch, torchvision, numpy, PIL']));

function python(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(torchPython as string, args, {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('tools/torchvision_roundtrip.py', () => {
  // ast.parse rather than py_compile: no __pycache__ is written into tools/.
  it.skipIf(anyPython === undefined)('parses as Python', () => {
    const r = spawnSync(anyPython as string, ['-c', `import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])`, SCRIPT], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  if (torchPython === undefined) {
    it.skip('round trip through torchvision: no Python with torch + torchvision found (set SEG_PYTHON, or apt-get install python3-torch python3-torchvision)', () => {});
    return;
  }

  let dir = '';
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-torchvision-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** seg's logits (and the aux classifier's) for a random normalised input, saved where the script's `compare` reads them. */
  async function reference(model: SegmentationModel, file: string, size: number, seed: number): Promise<void> {
    const rng = new Rng(seed, 'input');
    const input = Float32Array.from({ length: size * size * 3 }, () => rng.next() * 4 - 2);
    const x = tf.tensor4d(input, [1, size, size, 3]);
    const { logits, aux } = model.forwardWithAux(x, { training: false });
    const tensors = new Map([
      ['input', { shape: [1, size, size, 3], data: input }],
      ['logits', { shape: [...logits.shape], data: (await logits.data()) as Float32Array }],
    ]);
    if (aux !== undefined) tensors.set('aux', { shape: [...aux.shape], data: (await aux.data()) as Float32Array });
    writeSafetensors(file, tensors, {});
    tf.dispose([x, logits, ...(aux !== undefined ? [aux] : [])]);
  }

  it("gives seg's loss and logit gradient for every head, void ignored, exp and pow3 clamped", () => {
    const [n, h, w, k] = [2, 3, 5, 4];
    const rng = new Rng(7, 'heads');
    const logits = Float32Array.from({ length: n * h * w * k }, () => (rng.next() - 0.5) * 6);
    logits[3] = 1e4; // beyond exp's clamp
    logits[9] = -1e6; // beyond pow3's clamp
    const labels = Int32Array.from({ length: n * h * w }, (_, i) => (i % 7 === 3 ? 255 : rng.int(k)));
    const heads = ['softmax', 'linear', 'egb:exp:alpha=0.25,beta=0', 'egb:exp:alpha=0.5,beta=0.1', 'egb:pow3:alpha=0.001,beta=0'];
    const file = path.join(dir, 'heads.safetensors');
    writeSafetensors(
      file,
      new Map([
        ['logits', { shape: [n, h, w, k], data: logits }],
        ['labels', { shape: [n, h, w], data: labels }],
      ]),
      {},
    );
    const out = path.join(dir, 'heads-out.safetensors');
    const code = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(TOOLS)})`,
      'import torchvision_roundtrip as r',
      `t, _ = r.read_safetensors(${JSON.stringify(file)})`,
      'res = {}',
      `for i, spec in enumerate(${JSON.stringify(heads)}):`,
      '    z = t["logits"].permute(0, 3, 1, 2).clone().requires_grad_(True)',
      `    loss = r.head_loss(z, t["labels"].long(), r.parse_head(spec, ${k}), 1)`,
      '    loss.backward()',
      '    res[f"loss{i}"] = loss.detach().reshape(1)',
      '    res[f"grad{i}"] = z.grad.permute(0, 2, 3, 1)',
      `r.write_safetensors(${JSON.stringify(out)}, res, {})`,
    ].join('\n');
    const r = python(['-c', code]);
    expect(r.err).toBe('');
    const got = readSafetensors(out).tensors;
    heads.forEach((spec, i) => {
      const head = createHead(parseHeadSpec(spec, k), k);
      const z = tf.tensor4d(logits, [n, h, w, k]);
      const y = tf.tensor3d(labels, [n, h, w], 'int32');
      const { loss, grad, validPixels } = head.lossAndGradient(z, y);
      const segLoss = loss.dataSync()[0] as number;
      const segGrad = grad.dataSync() as Float32Array;
      const torchLoss = toFloat32(got.get(`loss${i}`)!)[0] as number;
      const torchGrad = toFloat32(got.get(`grad${i}`)!);
      expect(Number.isFinite(torchLoss), spec).toBe(true);
      expect(Math.abs(torchLoss - segLoss) / Math.max(Math.abs(segLoss), 1e-12), spec).toBeLessThan(1e-5);
      let worst = 0;
      segGrad.forEach((g, j) => {
        worst = Math.max(worst, Math.abs((torchGrad[j] as number) - g) / (Math.abs(g) + 1e-6));
      });
      expect(worst, spec).toBeLessThan(1e-4);
      // Void pixels get no gradient.
      for (let p = 0; p < n * h * w; p++)
        if (labels[p] === 255) for (let c = 0; c < k; c++) expect(Math.abs(torchGrad[p * k + c] as number)).toBe(0);
      tf.dispose([z, y, loss, grad, validPixels]);
    });
  });

  it('refuses a model torchvision cannot take, naming what it can', async () => {
    const model = createModel({ backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false }, 1);
    const ckpt = path.join(dir, 'r18');
    await saveCheckpoint(ckpt, {
      model,
      head: { kind: 'softmax' },
      classNames: ['a', 'b', 'c'],
      normalization: IMAGENET_NORMALIZATION,
      iteration: 0,
    });
    model.dispose();
    const r = python([SCRIPT, 'check', '--checkpoint', ckpt]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('torchvision cannot take');
    expect(r.err).toContain('backbone resnet18');
    expect(r.err).toContain('width 0.125');
    expect(r.err).not.toContain('Traceback');
  });

  // About 10 s even without training (torch's import and a ResNet-50): in npm run test:slow only;
  // npm test's torchvision-parity test strict-loads seg's OS8 weights (aux classifier too) into torchvision.
  it.runIf(FULL)(
    'loads seg weights into torchvision with equal logits (aux classifier too), trains there with the aux loss, and comes back to seg',
    async () => {
      // Output stride 16 with multi-grid and torchvision's aux classifier (FCNHead on layer3): torchvision's
      // DeepLabV3 modules with layer4 dilations 2 x (1, 2, 4) and ASPP rates 6/12/18, strict-loaded.
      // (Output stride 8 is torchvision's own deeplabv3_resnet50(aux_loss=True): test/inference/torchvision-parity.test.ts.)
      const config: ModelConfig = {
        backbone: 'resnet50',
        outputStride: 16,
        width: 1,
        numClasses: SYNTH_CLASSES.length,
        multiGrid: true,
        auxClassifier: true,
      };
      const start = path.join(dir, 'start');
      const model = createModel(config, 3);
      const head = parseHeadSpec('egb', config.numClasses);
      await saveCheckpoint(start, { model, head, classNames: SYNTH_CLASSES, normalization: IMAGENET_NORMALIZATION, iteration: 5 });
      const ref = path.join(dir, 'start-ref.safetensors');
      await reference(model, ref, 24, 1);
      const w = 'classifier.4.weight';
      const startWeight = model.params.get(w)!.dataSync().slice();
      const a = 'aux_classifier.4.weight';
      const startAux = model.params.get(a)!.dataSync().slice();
      model.dispose();
      const data = (await makeSynthDataset({ out: path.join(dir, 'data'), train: 2, val: 1, size: 32, seed: 2 })).root;
      const out = path.join(dir, 'trained');
      // compare, then one training step, in one Python process (importing torch is the slow part).
      const compareArgs = ['compare', '--checkpoint', start, '--reference', ref];
      const trainArgs = [
        'train',
        '--checkpoint',
        start,
        '--data',
        data,
        '--out',
        out,
        '--iters',
        '1',
        '--batch',
        '2',
        '--crop',
        '24',
        '--device',
        'cpu',
        '--aux-loss',
        '0.5',
      ];
      const both = python([
        '-c',
        `import sys; sys.path.insert(0, ${JSON.stringify(TOOLS)}); import torchvision_roundtrip as r; ` +
          `sys.exit(r.main(${JSON.stringify(compareArgs)}) or r.main(${JSON.stringify(trainArgs)}))`,
      ]);
      expect(both.err).toBe('');
      expect(both.code).toBe(0);
      const compared = JSON.parse(both.out.split('\n')[0] as string) as { relL2: number; relL2Aux: number };
      expect(compared.relL2).toBeLessThan(1e-5);
      expect(compared.relL2Aux).toBeLessThan(1e-5);
      expect(both.out).toContain('+ 0.5 x aux');
      expect(both.out).toContain('train 1/1 loss=');

      const loaded = loadCheckpoint(out);
      expect(loaded.config.model).toEqual(config);
      expect(loaded.config.training['auxLoss']).toBe(0.5);
      // The aux classifier trained too (torchvision's state dict, aux_classifier.* included, loads strict).
      expect(
        loaded.model.params
          .get(a)!
          .dataSync()
          .some((v, i) => v !== startAux[i]),
      ).toBe(true);
      expect(loaded.config.head).toBe('egb:exp:alpha=0.16666666666666666,beta=0');
      expect(loaded.config.iteration).toBe(6);
      expect(loaded.config.classNames).toEqual(SYNTH_CLASSES);
      expect(loaded.model.batchesTracked).toBe(1);
      const trainedWeight = loaded.model.params.get(w)!.dataSync();
      expect(trainedWeight.some((v, i) => v !== startWeight[i])).toBe(true);
      // And the trained weights give the same logits in seg as in torchvision.
      const ref2 = path.join(dir, 'trained-ref.safetensors');
      await reference(loaded.model, ref2, 24, 2);
      loaded.model.dispose();
      const again = python([SCRIPT, 'compare', '--checkpoint', out, '--reference', ref2]);
      expect(again.err).toBe('');
      expect(JSON.parse(again.out).relL2).toBeLessThan(1e-5);
      expect(JSON.parse(again.out).relL2Aux).toBeLessThan(1e-5);
    },
    600_000,
  );
});
