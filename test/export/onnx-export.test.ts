import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { onnx } from 'onnx-proto';
import { tf } from '../../src/engine/tf.js';
import { exportOnnx, type OnnxExportOptions } from '../../src/export/onnx-export.js';
import { decodeOnnxModel, ONNX_OPSET } from '../../src/export/onnx-graph.js';
import { parseMetadataProps } from '../../src/export/onnx-metadata.js';
import { createHead } from '../../src/heads/head.js';
import { parseHeadSpec } from '../../src/heads/head-spec.js';
import { wholeImageLogits } from '../../src/segmentation/model-logits.js';
import { createOrtSession } from '../../src/inference/engines/onnxruntime-loader.js';
import { weightSpecs } from '../../src/nn/layer-spec.js';
import type { ModelConfig } from '../../src/segmentation/deeplab-spec.js';
import { createModel, type SegmentationModel } from '../../src/segmentation/model.js';
import { IMAGENET_NORMALIZATION } from '../../src/data-loading/normalize.js';
import { argmaxAgreement, onnxRuntimeMissing, randomImages, randomisedModel, relativeL2 } from './onnx-fixtures.js';

const CONFIG: ModelConfig = { backbone: 'resnet18', outputStride: 16, width: 0.25, numClasses: 4, multiGrid: false };
const CLASSES = ['bg', 'cat', 'dog', 'cow'];
const ALLOWED_OPS = new Set([
  'Conv',
  'BatchNormalization',
  'Relu',
  'MaxPool',
  'GlobalAveragePool',
  'Add',
  'Concat',
  'Resize',
  'Shape',
  'Pad',
  'Neg',
  'Mod',
  'Slice',
  'Identity',
  'Softmax',
  'Exp',
  'Min',
  'Mul',
  'Clip',
  'ArgMax',
]);

const missing = await onnxRuntimeMissing();
if (missing !== null) console.warn(`skipping the onnxruntime part of the export tests: ${missing}`);

let model: SegmentationModel;
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = randomisedModel(CONFIG, 5);
});
afterAll(() => {
  model.dispose();
  tf.disposeVariables();
});

/** A value's dims: symbolic names or sizes (the oneof says which). */
function dims(
  v:
    | {
        type?: {
          tensorType?: { shape?: { dim?: { value?: string; dimParam?: string | null; dimValue?: unknown }[] | null } | null } | null;
        } | null;
      }
    | undefined,
): (string | number)[] {
  return (v?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.value === 'dimParam' ? String(d.dimParam) : Number(d.dimValue)));
}

const exportWith = (head: string, extra: Partial<OnnxExportOptions> = {}): Promise<Uint8Array> =>
  exportOnnx(model, { headSpec: parseHeadSpec(head, 4), classNames: CLASSES, normalization: IMAGENET_NORMALIZATION, ...extra });

describe('ONNX file structure', () => {
  it('has opset 17, known ops only, torchvision initializer names, dynamic N/H/W and the metadata', async () => {
    const bytes = await exportWith('egb:exp:alpha=0.3,beta=0');
    const m = decodeOnnxModel(bytes);
    expect(Number(m.irVersion)).toBe(8);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
    expect(ONNX_OPSET).toBeGreaterThanOrEqual(17);
    // Decoded messages are class instances with defaults, wider typed as their interfaces.
    const g = m.graph as onnx.GraphProto;
    const initializers = g.initializer as onnx.TensorProto[];
    const nodes = g.node as onnx.NodeProto[];
    const attrs = (n: onnx.NodeProto): onnx.AttributeProto[] => n.attribute as onnx.AttributeProto[];
    const ints = (n: onnx.NodeProto, name: string): number[] => (attrs(n).find((a) => a.name === name)?.ints ?? []).map(Number);
    for (const node of nodes) expect(ALLOWED_OPS, node.opType ?? '').toContain(node.opType);
    // Every weight under its torchvision name, OIHW; the rest are small generated constants.
    const byName = new Map(initializers.map((t) => [t.name, t.dims.map(Number)]));
    const weights = weightSpecs(model.spec);
    for (const w of weights) {
      const dims = byName.get(w.name);
      expect(dims, w.name).toBeDefined();
      if (w.shape.length === 4) expect(dims).toEqual([w.shape[3], w.shape[2], w.shape[0], w.shape[1]]);
      else expect(dims).toEqual(w.shape);
    }
    expect(byName.get('backbone.conv1.weight')).toEqual([16, 3, 7, 7]);
    expect(byName.get('classifier.4.bias')).toEqual([4]);
    const others = [...byName.keys()].filter((n) => !weights.some((w) => w.name === n));
    for (const n of others) expect(n).toMatch(/^const_\d+$/);
    // Every node input is a graph input, an initializer or an earlier node's output.
    const known = new Set<string>(['', ...g.input.map((i) => String(i.name)), ...byName.keys()]);
    for (const node of nodes) {
      for (const i of node.input) expect(known, `${node.opType} reads ${i}`).toContain(i);
      for (const o of node.output) known.add(o);
    }
    expect(g.input.map((i) => i.name)).toEqual(['image']);
    expect(dims(g.input[0])).toEqual(['N', 3, 'H', 'W']);
    expect(g.output.map((o) => o.name)).toEqual(['logits']);
    expect(dims(g.output[0])).toEqual(['N', 4, 'H', 'W']);
    // Resizes are bilinear with align_corners=False coordinates.
    const resizes = nodes.filter((n) => n.opType === 'Resize');
    expect(resizes).toHaveLength(2); // ASPP image pooling, final upsampling
    for (const r of resizes) {
      const attr = Object.fromEntries(attrs(r).map((a) => [a.name, new TextDecoder().decode(a.s ?? new Uint8Array())]));
      expect(attr['mode']).toBe('linear');
      expect(attr['coordinate_transformation_mode']).toBe('half_pixel');
    }
    // Dilated convs carry their dilation and 'same' padding.
    const dilated = nodes.filter((n) => n.opType === 'Conv' && (ints(n, 'dilations')[0] ?? 1) > 1);
    expect(dilated.length).toBeGreaterThanOrEqual(3); // at least the ASPP branches 6/12/18
    for (const n of dilated) {
      const d = ints(n, 'dilations')[0] as number;
      const k = ints(n, 'kernel_shape')[0] as number;
      expect(ints(n, 'pads')).toEqual(Array(4).fill((d * (k - 1)) / 2));
    }
    const meta = parseMetadataProps(Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value])), 'test');
    expect(meta.classNames).toEqual(CLASSES);
    expect(meta.normalization).toEqual(IMAGENET_NORMALIZATION);
    expect(meta.headSpec).toEqual({ kind: 'egb', boost: 'exp', alpha: 0.3, beta: 0 });
    expect(meta.model).toEqual(CONFIG);
    expect(meta.headOutput).toBe('logits');
    expect(meta.fixedSize).toBeNull();
    expect(meta.padToStride).toBe(false);
    expect(meta.segVersion).toMatch(/^\d+\.\d+\.\d+/);
    // The network runs on the image as it is (as torchvision's): no padding, no crop.
    expect(nodes.filter((n) => ['Pad', 'Slice', 'Mod', 'Neg'].includes(n.opType ?? ''))).toEqual([]);
    // Files of seg versions before seg.padToStride always padded.
    const older = Object.fromEntries(m.metadataProps.filter((p) => p.key !== 'seg.padToStride').map((p) => [p.key, p.value]));
    expect(parseMetadataProps(older, 'old.onnx').padToStride).toBe(true);
    expect(() => parseMetadataProps({ ...older, 'seg.padToStride': '"yes"' }, 'bad.onnx')).toThrow(/bad.onnx: metadata 'seg.padToStride'/);
  });

  it('pads in the graph with padToStride, dynamic or static', async () => {
    const ops = (m: onnx.ModelProto): string[] => (m.graph as onnx.GraphProto).node.map((n) => String(n.opType));
    const dynamic = decodeOnnxModel(await exportWith('softmax', { padToStride: true }));
    expect(ops(dynamic)).toEqual(expect.arrayContaining(['Pad', 'Mod', 'Slice']));
    expect(parseMetadataProps(Object.fromEntries(dynamic.metadataProps.map((p) => [p.key, p.value])), 'p').padToStride).toBe(true);
    const fixed = decodeOnnxModel(await exportWith('softmax', { padToStride: true, fixedSize: [37, 50] }));
    expect(ops(fixed)).toEqual(expect.arrayContaining(['Pad', 'Slice']));
    expect(ops(fixed).some((o) => o === 'Neg' || o === 'Mod')).toBe(false); // padding is static
    // A fixed size that is a multiple of the stride needs none.
    expect(ops(decodeOnnxModel(await exportWith('softmax', { padToStride: true, fixedSize: [32, 48] }))).includes('Pad')).toBe(false);
  });

  it('with --fixed-size has static H and W and names them in the metadata', async () => {
    const m = decodeOnnxModel(await exportWith('softmax', { fixedSize: [37, 50], headOutput: 'mask' }));
    const g = m.graph as onnx.GraphProto;
    expect(dims(g.input[0])).toEqual(['N', 3, 37, 50]);
    expect(g.output.map((o) => [o.name, o.type?.tensorType?.elemType])).toEqual([['mask', 7]]); // int64
    expect(m.metadataProps.find((p) => p.key === 'seg.fixedSize')?.value).toBe('[37,50]');
  });

  it('leaves the aux classifier out of the graph and of the metadata model', async () => {
    const withAux = createModel({ ...CONFIG, auxClassifier: true }, 5);
    try {
      const m = decodeOnnxModel(
        await exportOnnx(withAux, { headSpec: { kind: 'softmax' }, classNames: CLASSES, normalization: IMAGENET_NORMALIZATION }),
      );
      const names = (m.graph?.initializer ?? []).map((t) => String(t.name));
      expect(names.filter((n) => n.startsWith('aux_classifier.'))).toEqual([]);
      expect(names).toContain('classifier.4.weight');
      expect(parseMetadataProps(Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value])), 'aux').model).toEqual(CONFIG);
      const plain = decodeOnnxModel(await exportWith('softmax'));
      expect((m.graph?.node ?? []).map((n) => n.opType)).toEqual((plain.graph?.node ?? []).map((n) => n.opType));
    } finally {
      withAux.dispose();
    }
  });

  it('refuses a bad fixed size and a class list of the wrong length', async () => {
    await expect(exportWith('softmax', { fixedSize: [0, 32] })).rejects.toThrow(/--fixed-size: got 0 32/);
    await expect(
      exportOnnx(model, { headSpec: { kind: 'softmax' }, classNames: ['a'], normalization: IMAGENET_NORMALIZATION }),
    ).rejects.toThrow(/1 class names for a 4-class model/);
  });
});

describe.skipIf(missing !== null)('ONNX head outputs run by onnxruntime', () => {
  async function runOnnx(
    bytes: Uint8Array,
    images: Float32Array,
    n: number,
    h: number,
    w: number,
  ): Promise<{ name: string; data: ArrayLike<number | bigint>; dims: readonly number[] }> {
    const { ort, session } = await createOrtSession(bytes);
    try {
      const nchw = tf.tidy(() => tf.transpose(tf.tensor4d(images, [n, h, w, 3]), [0, 3, 1, 2]));
      const out = await session.run({ image: new ort.Tensor('float32', (await nchw.data()) as Float32Array, [n, 3, h, w]) });
      nchw.dispose();
      expect(session.outputNames).toHaveLength(1);
      const name = session.outputNames[0] as string;
      const t = out[name];
      if (t === undefined) throw new Error('no output');
      return { name, data: t.data as ArrayLike<number | bigint>, dims: t.dims };
    } finally {
      await session.release();
    }
  }

  /** tfjs reference of a head's scores, NCHW. */
  async function tfjsScores(head: string, images: Float32Array, n: number, h: number, w: number): Promise<Float32Array> {
    const x = tf.tensor4d(images, [n, h, w, 3]);
    const logits = wholeImageLogits(model, x);
    const scores = tf.tidy(() => tf.transpose(createHead(parseHeadSpec(head, 4), 4).scores(logits), [0, 3, 1, 2]));
    const data = (await scores.data()) as Float32Array;
    tf.dispose([x, logits, scores]);
    return data;
  }

  for (const head of ['softmax', 'egb:exp:alpha=0.3,beta=0.1', 'egb:pow3', 'linear']) {
    it(`scores of ${head} equal the head's own scores`, async () => {
      const [n, h, w] = [2, 35, 41];
      const images = randomImages(n, h, w, 11);
      const out = await runOnnx(await exportWith(head, { headOutput: 'scores' }), images, n, h, w);
      expect(out.name).toBe('scores');
      expect(out.dims).toEqual([n, 4, h, w]);
      const expected = await tfjsScores(head, images, n, h, w);
      expect(relativeL2(out.data as Float32Array, expected)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('mask is the int64 argmax, and a fixed-size export gives the dynamic one at that size', async () => {
    const [n, h, w] = [1, 37, 50];
    const images = randomImages(n, h, w, 12);
    const dynamic = await runOnnx(await exportWith('softmax'), images, n, h, w);
    const fixed = await runOnnx(await exportWith('softmax', { fixedSize: [h, w] }), images, n, h, w);
    expect(fixed.dims).toEqual([n, 4, h, w]);
    expect(relativeL2(fixed.data as Float32Array, dynamic.data as Float32Array)).toBeLessThanOrEqual(1e-6);
    const mask = await runOnnx(await exportWith('softmax', { headOutput: 'mask' }), images, n, h, w);
    expect(mask.name).toBe('mask');
    expect(mask.dims).toEqual([n, h, w]);
    expect(mask.data).toBeInstanceOf(BigInt64Array);
    // argmax of the NCHW logits, per pixel
    const logits = dynamic.data as Float32Array;
    const nhwc = new Float32Array(logits.length);
    for (let c = 0; c < 4; c++) for (let p = 0; p < h * w; p++) nhwc[p * 4 + c] = logits[c * h * w + p] as number;
    const oneHot = new Float32Array(logits.length);
    (mask.data as BigInt64Array).forEach((v, p) => {
      oneHot[p * 4 + Number(v)] = 1;
    });
    expect(argmaxAgreement(oneHot, nhwc, 4)).toBe(1);
  });
});
