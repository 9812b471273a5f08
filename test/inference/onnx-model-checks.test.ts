/**
 * ONNX files that lie about themselves: an output that does not match the seg metadata, and
 * what predict and eval say about them. The files are built here with onnx-proto (a 1x1 conv
 * over the normalised image, optionally after a 2x2 average pool), not exported by seg.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { onnxRuntimeEngine } from '../../src/inference/engines/onnxruntime.js';
import { makeSynthDataset, SYNTH_CLASSES } from '../../src/dataset-makers/synth-dataset.js';
import { onnxRuntimeMissing } from '../export/onnx-fixtures.js';
import { gradientImage, removeTempDirs, tempDir, writeJpegFile } from '../datasets/fixtures.js';
import { runSeg } from '../cli/run-cli.js';

const { onnx } = onnxProto;
const missing = await onnxRuntimeMissing();
if (missing !== null) console.warn(`skipping the onnxruntime model checks: ${missing}`);

interface FakeModel {
  /** Channels of the graph's output. */
  outputChannels: number;
  /** Classes the metadata claims. */
  metadataClasses: number;
  /** Put a 2x2 average pool in front: the output is half the input's size. */
  halfSize?: boolean;
  fixedSize?: [number, number] | null;
  std?: [number, number, number];
}

/** A ModelProto: image [N,3,H,W] -> (AveragePool 2x2) -> Conv 1x1 -> logits, with seg's metadata_props. */
function fakeOnnx(spec: FakeModel): Uint8Array {
  const f = onnx.TensorProto.DataType.FLOAT;
  const [h, w] = spec.fixedSize ?? ['H', 'W'];
  const dims = (d: (number | string)[]): OnnxTypes.ITensorShapeProto => ({
    dim: d.map((x) => (typeof x === 'number' ? { dimValue: x } : { dimParam: x })),
  });
  const weight = new Float32Array(spec.outputChannels * 3).map((_, i) => ((i % 5) - 2) / 3);
  const nodes: OnnxTypes.INodeProto[] = [];
  let x = 'image';
  if (spec.halfSize === true) {
    nodes.push({
      opType: 'AveragePool',
      input: [x],
      output: ['pooled'],
      attribute: [
        { name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 2] },
        { name: 'strides', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 2] },
      ],
    });
    x = 'pooled';
  }
  nodes.push({ opType: 'Conv', input: [x, 'w'], output: ['logits'] });
  const classNames = Array.from({ length: spec.metadataClasses }, (_, i) => `c${i}`);
  const metadata: Record<string, string> = {
    'seg.classNames': JSON.stringify(classNames),
    'seg.normalization': JSON.stringify({ mean: [0.485, 0.456, 0.406], std: spec.std ?? [0.229, 0.224, 0.225] }),
    'seg.head': 'softmax',
    'seg.model': JSON.stringify({
      backbone: 'resnet18',
      outputStride: 16,
      width: 0.125,
      numClasses: spec.metadataClasses,
      multiGrid: false,
    }),
    'seg.headOutput': 'logits',
    'seg.fixedSize': JSON.stringify(spec.fixedSize ?? null),
    'seg.version': '0.1.0',
  };
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'a test',
    graph: {
      name: 'fake',
      node: nodes,
      initializer: [{ name: 'w', dims: [spec.outputChannels, 3, 1, 1], dataType: f, floatData: Array.from(weight) }],
      input: [{ name: 'image', type: { tensorType: { elemType: f, shape: dims(['N', 3, h, w]) } } }],
      output: [
        {
          name: 'logits',
          type: {
            tensorType: {
              elemType: f,
              shape: dims(['N', spec.outputChannels, spec.halfSize === true ? 'H2' : h, spec.halfSize === true ? 'W2' : w]),
            },
          },
        },
      ],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  }).finish();
}

let dir: string;
let data: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = tempDir('seg-onnx-checks-');
  data = (await makeSynthDataset({ out: join(dir, 'synth'), train: 1, val: 2, size: 32, seed: 1 })).root;
});
afterAll(removeTempDirs);

describe.skipIf(missing !== null)('an ONNX output that does not match its seg metadata', () => {
  it('is refused when the model is loaded, naming the file and both shapes', async () => {
    const wrongClasses = fakeOnnx({ outputChannels: 3, metadataClasses: 6 });
    await expect(onnxRuntimeEngine(wrongClasses, 'three.onnx')).rejects.toThrow(
      /three\.onnx: its output 'logits' is \[1, 3, \d+, \d+\] for a 1x3x\d+x\d+ image, but its seg metadata says 6 classes at the image's size \(\[1, 6, \d+, \d+\]\)/,
    );
    const half = fakeOnnx({ outputChannels: 6, metadataClasses: 6, halfSize: true });
    await expect(onnxRuntimeEngine(half, 'half.onnx')).rejects.toThrow(/half\.onnx: its output 'logits' is \[1, 6, \d+, \d+\] for a/);
    // A file that matches its metadata loads and runs.
    const good = await onnxRuntimeEngine(fakeOnnx({ outputChannels: 6, metadataClasses: 6 }), 'good.onnx');
    const logits = await good.logits(tf.zeros([1, 20, 24, 3]) as tf.Tensor4D);
    expect(logits.shape).toEqual([1, 20, 24, 6]);
    logits.dispose();
    await good.dispose();
  });

  it('predict and eval say so once and exit 1, not "internal error"', async () => {
    const file = join(dir, 'three.onnx');
    writeFileSync(file, fakeOnnx({ outputChannels: 3, metadataClasses: SYNTH_CLASSES.length + 1 }));
    await writeJpegFile(join(dir, 'a.jpg'), gradientImage(40, 32));
    const predict = await runSeg([
      'predict',
      '--onnx',
      file,
      '--input',
      join(dir, 'a.jpg'),
      '--output',
      join(dir, 'masks'),
      '--backend',
      'wasm',
    ]);
    expect(predict.code).toBe(1);
    expect(predict.err).toMatch(/error: .*three\.onnx: its output 'logits' is \[1, 3,/);
    expect(predict.err).not.toContain('internal error');
    const half = join(dir, 'half.onnx');
    writeFileSync(half, fakeOnnx({ outputChannels: SYNTH_CLASSES.length, metadataClasses: SYNTH_CLASSES.length, halfSize: true }));
    const evaluate = await runSeg(['eval', '--onnx', half, '--data', data, '--backend', 'wasm']);
    expect(evaluate.code).toBe(1);
    expect(evaluate.err).toMatch(/error: .*half\.onnx: its output 'logits' is \[1, \d+, \d+, \d+\] for a 1x3x\d+x\d+ image/);
    expect(evaluate.err).not.toContain('internal error');
  });

  it('a --fixed-size model on images of another size: said once, naming the image and both sizes', async () => {
    const file = join(dir, 'fixed.onnx');
    writeFileSync(file, fakeOnnx({ outputChannels: SYNTH_CLASSES.length, metadataClasses: SYNTH_CLASSES.length, fixedSize: [16, 16] }));
    const photos = join(dir, 'photos');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(photos);
    await writeJpegFile(join(photos, 'a.jpg'), gradientImage(40, 32));
    await writeJpegFile(join(photos, 'b.jpg'), gradientImage(40, 32, 1));
    const r = await runSeg([
      'predict',
      '--onnx',
      file,
      '--input',
      photos,
      '--output',
      join(dir, 'fixed-masks'),
      '--mode',
      'whole',
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(1);
    expect(r.err.match(/16x16/g)?.length).toBe(1);
    expect(r.err).toMatch(
      /error: .*photos\/a\.jpg is 40x32, but .*fixed\.onnx was exported with --fixed-size 16 16: it takes only 16x16 inputs \(width x height\), and this image gave it 40x32; export it without --fixed-size, or resize the images/,
    );
    expect(r.err).not.toMatch(/failed/);
    const evaluate = await runSeg(['eval', '--onnx', file, '--data', data, '--mode', 'whole', '--backend', 'wasm']);
    expect(evaluate.code).toBe(1);
    expect(evaluate.err).toMatch(/error: .*JPEGImages\/.*\.jpg is 32x32, but .*fixed\.onnx was exported with --fixed-size 16 16/);
    expect(evaluate.err).not.toMatch(/skipped/);
  });

  it('an empty or non-ONNX file is "not an ONNX model", and metadata std 0 is refused as in config.json', async () => {
    await expect(onnxRuntimeEngine(new Uint8Array(0), 'empty.onnx')).rejects.toThrow(
      /empty\.onnx: not an ONNX model \(the file is empty\); pass a file written by 'seg export'/,
    );
    await expect(onnxRuntimeEngine(Buffer.from('hello, not protobuf at all'), 'text.onnx')).rejects.toThrow(
      /text\.onnx: not an ONNX model/,
    );
    const zeroStd = fakeOnnx({ outputChannels: 6, metadataClasses: 6, std: [0, 0, 0] });
    await expect(onnxRuntimeEngine(zeroStd, 'std.onnx')).rejects.toThrow(
      /std\.onnx: metadata 'seg\.normalization': std\[0\]: got 0, expected a number > 0/,
    );
  });
});
