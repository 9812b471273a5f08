/**
 * ONNX export: one more walk over the model's layer-spec tree (nn/layer-onnx.ts, each layer
 * kind emitting its own NCHW ONNX ops, opset 17) with the checkpoint's torchvision weight
 * names as initializer names.
 *
 * The graph is seg's whole-image inference: the network on the input `image` [N, 3, H, W]
 * (normalised) as it is, logits upsampled to H x W, as torchvision's DeepLabV3 runs, so any
 * H, W gives torchvision's logits and seg's tfjs ones. With `padToStride` the image is padded
 * with zeros at the bottom and right to a multiple of the output stride first, and the
 * logits are cropped back to H x W (seg's `--pad-to-stride`). The aux classifier, which only
 * trains, is left out. Bilinear resizes are `Resize` linear with half_pixel coordinates,
 * which is PyTorch's align_corners=False (clamped at the border) for every size seg
 * produces. BN stays `BatchNormalization` (onnxruntime folds it into the convs).
 *
 * The graph ends in `logits` [N, K, H, W], the head's `scores` (softmax probabilities,
 * egb's clamped boosted outputs, linear's logits) or `mask` (int64 argmax [N, H, W]).
 */
import { SegError } from '../core/errors.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { EXP_BOOST_MAX_LOGIT, POW3_BOOST_MAX_ABS_LOGIT } from '../heads/boost.js';
import { formatHeadSpec, type HeadSpec } from '../heads/head-spec.js';
import { type LayerSpec, weightSpecs } from '../nn/layer-spec.js';
import type { LayerWeights } from '../nn/layer-forward.js';
import { emitOnnxLayers, type OnnxValue as Value } from '../nn/layer-onnx.js';
import type { SegmentationModel } from '../segmentation/model.js';
import { hwioToOihw, torchShape } from '../checkpoint/weight-layout.js';
import type { Normalization } from '../data-loading/normalize.js';
import { type Dim, OnnxGraphBuilder } from './onnx-graph.js';
import { type HeadOutput, HEAD_OUTPUTS, metadataProps } from './onnx-metadata.js';

export const ONNX_INPUT_NAME = 'image';

export interface OnnxExportOptions {
  headSpec: HeadSpec;
  classNames: readonly string[];
  normalization: Normalization;
  /** What the graph ends with (default 'logits'). */
  headOutput?: HeadOutput;
  /** Static [H, W] instead of dynamic H and W (N stays dynamic). */
  fixedSize?: [number, number];
  /** Pad the image to a multiple of the output stride in the graph and crop the logits back (default false). */
  padToStride?: boolean;
}

/** The head's score map of `logits` (see heads/head.ts `scores`), named `output`. */
function headScores(g: OnnxGraphBuilder, logits: string, spec: HeadSpec, output: string): string {
  if (spec.kind === 'softmax') return g.node('Softmax', [logits], { axis: 1 }, output);
  if (spec.kind === 'linear') return g.node('Identity', [logits], {}, output);
  const boosted =
    spec.boost === 'exp'
      ? g.node('Exp', [g.node('Min', [logits, g.floatScalar(EXP_BOOST_MAX_LOGIT)])])
      : (() => {
          const c = g.node('Clip', [logits, g.floatScalar(-POW3_BOOST_MAX_ABS_LOGIT), g.floatScalar(POW3_BOOST_MAX_ABS_LOGIT)]);
          return g.node('Mul', [g.node('Mul', [c, c]), c]);
        })();
  if (spec.beta === 0) return g.node('Mul', [boosted, g.floatScalar(spec.alpha)], {}, output);
  return g.node('Add', [g.node('Mul', [boosted, g.floatScalar(spec.alpha)]), g.floatScalar(spec.beta)], {}, output);
}

function validateFixedSize(size: [number, number] | undefined): void {
  if (size === undefined) return;
  for (const s of size) {
    if (!Number.isInteger(s) || s < 1 || s > 65536)
      throw new SegError(`--fixed-size: got ${size.join(' ')}, expected two integers in 1..65536`, '--fixed-size');
  }
}

/** The weights of `spec` as initializers under their torchvision names (convs OIHW). */
export async function addOnnxWeights(g: OnnxGraphBuilder, spec: LayerSpec, weights: LayerWeights): Promise<void> {
  for (const w of weightSpecs(spec)) {
    const v = (w.role === 'param' ? weights.params : weights.buffers).get(w.name);
    if (v === undefined) throw new Error(`onnx export: the model has no weight ${w.name}`);
    const data = (await v.data()) as Float32Array;
    g.addFloatInitializer(w.name, torchShape(w.shape), hwioToOihw(data, w.shape));
  }
}

/**
 * The input padded with zeros at the bottom and right to a multiple of `os`, and the crop
 * of the logits back to the input's size.
 */
function padInGraph(g: OnnxGraphBuilder, input: Value, os: number): { padded: Value; crop: (logits: string) => string } {
  if (input.hw !== null) {
    const [h, w] = input.hw;
    const ph = Math.ceil(h / os) * os;
    const pw = Math.ceil(w / os) * os;
    if (ph === h && pw === w) return { padded: input, crop: (logits) => logits };
    const pads = g.int64Constant([0, 0, 0, 0, 0, 0, ph - h, pw - w]);
    return {
      padded: { name: g.node('Pad', [input.name, pads, g.floatScalar(0)], { mode: 'constant' }), hw: [ph, pw] },
      crop: (logits) => g.node('Slice', [logits, g.int64Constant([0, 0]), g.int64Constant([h, w]), g.int64Constant([2, 3])]),
    };
  }
  const hw = g.node('Shape', [input.name], { start: 2, end: 4 });
  const extra = g.node('Mod', [g.node('Neg', [hw]), g.int64Constant([os])], { fmod: 0 });
  const pads = g.node('Concat', [g.int64Constant([0, 0, 0, 0, 0, 0]), extra], { axis: 0 });
  return {
    padded: { name: g.node('Pad', [input.name, pads, g.floatScalar(0)], { mode: 'constant' }), hw: null },
    crop: (logits) => g.node('Slice', [logits, g.int64Constant([0, 0]), hw, g.int64Constant([2, 3])]),
  };
}

/** Serialise `model` as an ONNX ModelProto (see the module comment). */
export async function exportOnnx(model: SegmentationModel, options: OnnxExportOptions): Promise<Uint8Array> {
  const headOutput = options.headOutput ?? 'logits';
  if (!HEAD_OUTPUTS.includes(headOutput))
    throw new SegError(`--head-output: got '${String(headOutput)}', expected one of ${HEAD_OUTPUTS.join(', ')}`, '--head-output');
  validateFixedSize(options.fixedSize);
  if (options.classNames.length !== model.config.numClasses) {
    throw new SegError(`onnx export: ${options.classNames.length} class names for a ${model.config.numClasses}-class model`);
  }
  const g = new OnnxGraphBuilder();
  const os = model.config.outputStride;
  const fixed = options.fixedSize ?? null;
  const dims: [Dim, Dim] = fixed ?? ['H', 'W'];
  const input: Value = { name: g.addInput(ONNX_INPUT_NAME, 'float32', ['N', 3, ...dims]), hw: fixed };
  await addOnnxWeights(g, model.spec, model);

  const padToStride = options.padToStride ?? false;
  const { padded, crop } = padToStride ? padInGraph(g, input, os) : { padded: input, crop: (logits: string) => logits };
  const logits = crop(emitOnnxLayers(model.spec, padded, g).name);
  const k = model.config.numClasses;
  if (headOutput === 'logits') {
    g.node('Identity', [logits], {}, 'logits');
    g.addOutput({ name: 'logits', elemType: 'float32', dims: ['N', k, ...dims] });
  } else if (headOutput === 'scores') {
    headScores(g, logits, options.headSpec, 'scores');
    g.addOutput({ name: 'scores', elemType: 'float32', dims: ['N', k, ...dims] });
  } else {
    g.node('ArgMax', [logits], { axis: 1, keepdims: 0 }, 'mask');
    g.addOutput({ name: 'mask', elemType: 'int64', dims: ['N', ...dims] });
  }

  // The graph is the inference model: the aux classifier (training only) is not in it.
  const { auxClassifier: _aux, ...config } = model.config;
  return g.encode({
    graphName: `deeplabv3_${config.backbone}_os${config.outputStride}`,
    producerVersion: PACKAGE_VERSION,
    docString: `DeepLab-v3 ${config.backbone} OS${config.outputStride} width ${config.width}, ${k} classes; input '${ONNX_INPUT_NAME}' is normalised RGB NCHW`,
    metadata: metadataProps({
      classNames: [...options.classNames],
      normalization: { mean: [...options.normalization.mean], std: [...options.normalization.std] },
      head: formatHeadSpec(options.headSpec),
      model: { ...config },
      headOutput,
      fixedSize: fixed,
      padToStride,
      segVersion: PACKAGE_VERSION,
    }),
  });
}
