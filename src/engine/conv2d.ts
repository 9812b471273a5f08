/**
 * A conv2d that trains on every backend.
 *
 * tfjs has no gradient for dilated conv2d, wasm has no Conv2DBackpropFilter, and the cpu
 * backend's filter gradient is very slow. So both gradients are expressed as *forward*
 * convolutions, the fast kernel everywhere (measured in `seg bench ops`):
 *
 *   dx = conv(zero-insert(dy, stride) padded by d(k-1), flip(W) with in/out swapped, dilation d)
 *   dW = conv(pad(x) as [Cin, H, W, N], dy as [Ho, Wo, N, Cout], strides d, dilations s)
 *
 * Padding is PyTorch's: symmetric, p = d(k-1)/2 (odd kernels), so output size is
 * ceil(H / stride) and torchvision weights behave as in torchvision.
 */
import { tf } from './tf.js';
import { SegError } from '../core/errors.js';
import { flipAndSwapChannels, usesHostLoops, zeroInsert } from './rearrange.js';
import { activeBackendTraits } from './backend-traits.js';

export interface Conv2dOptions {
  /** 1 or 2. */
  stride?: number;
  /** Any integer >= 1. */
  dilation?: number;
  /**
   * false when x needs no gradient (the network's input image): skips the input-gradient
   * conv, which for the 7x7 stem is a large share of the backward pass. Default true.
   */
  inputGradient?: boolean;
}

type T4 = tf.Tensor4D;

function samePadding(kernel: number, dilation: number): number {
  return (dilation * (kernel - 1)) / 2;
}

function rawConv(x: T4, w: T4, stride: number, dilation: number, pad: number): T4 {
  const padding: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
  return tf.conv2d(x, w, stride, pad === 0 ? 'valid' : padding, 'NHWC', dilation);
}

/**
 * Gradient w.r.t. the input of a conv with padding p, as one forward conv: the full
 * correlation of the zero-inserted dy with the flipped filter, restricted to the rows of the
 * unpadded input by an asymmetric padding (left d(k-1) - p, right H - Lz + p >= p).
 */
function inputGradient(dy: T4, w: T4, inShape: [number, number, number, number], stride: number, dilation: number, pad: number): T4 {
  const k = w.shape[0];
  if (pointwiseAsMatMul(k, stride)) {
    const [cin, cout] = [w.shape[2], w.shape[3]];
    return tf.matMul(dy.reshape([-1, cout]), w.reshape([cin, cout]), false, true).reshape(inShape);
  }
  const [, h, wd] = inShape;
  const dyz = zeroInsert(dy, stride);
  const flipped = flipAndSwapChannels(w);
  const left = dilation * (k - 1) - pad;
  const bottom = h - dyz.shape[1] + pad;
  const right = wd - dyz.shape[2] + pad;
  return tf.conv2d(
    dyz,
    flipped,
    1,
    [
      [0, 0],
      [left, bottom],
      [left, right],
      [0, 0],
    ],
    'NHWC',
    dilation,
  );
}

/**
 * A 1x1 stride-1 conv is a matMul over pixels, so off wasm/cpu (whose transposed matMul is
 * slow) each of its gradients is one transposed matMul instead of transposes and a conv:
 * fewer kernels per step on a GPU.
 */
function pointwiseAsMatMul(k: number, stride: number): boolean {
  return k === 1 && stride === 1 && !usesHostLoops();
}

/** Gradient w.r.t. the filter, as one forward conv over the batch dimension. */
function filterGradient(dy: T4, x: T4, k: number, stride: number, dilation: number, pad: number): T4 {
  if (pointwiseAsMatMul(k, stride)) {
    const [cin, cout] = [x.shape[3], dy.shape[3]];
    return tf.matMul(x.reshape([-1, cin]), dy.reshape([-1, cout]), true, false).reshape([1, 1, cin, cout]);
  }
  const [, h, w] = x.shape;
  const [, ho, wo] = dy.shape;
  const xt = x.transpose([3, 1, 2, 0]) as T4; // [Cin, H, W, N]
  const dyt = dy.transpose([1, 2, 0, 3]) as T4; // [Ho, Wo, N, Cout]
  // Pad inside the conv; trim the bottom/right padding that would only produce rows past k.
  const excessH = h + 2 * pad - stride * (ho - 1) - 1 - dilation * (k - 1);
  const excessW = w + 2 * pad - stride * (wo - 1) - 1 - dilation * (k - 1);
  const padding: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [pad, Math.max(0, pad - excessH)],
    [pad, Math.max(0, pad - excessW)],
    [0, 0],
  ];
  const out = tf.conv2d(xt, dyt, dilation, padding, 'NHWC', stride); // [Cin, >=k, >=k, Cout]
  const cropped = out.shape[1] === k && out.shape[2] === k ? out : out.slice([0, 0, 0, 0], [out.shape[0], k, k, out.shape[3]]);
  return cropped.transpose([1, 2, 0, 3]) as T4;
}

/**
 * Keep every `stride`-th row and column (used for stride 2 with dilation > 1). Rows, then
 * columns, with rank <= 4 tensors: the webgpu backend's Pad (the gradient of slice) fails
 * to compile above rank 4 (tfjs 4.22).
 */
function subsample(y: T4, stride: number): T4 {
  const [n, h, w, c] = y.shape;
  const ho = Math.floor((h - 1) / stride) + 1;
  const wo = Math.floor((w - 1) / stride) + 1;
  const rows = tf
    .pad(y, [
      [0, 0],
      [0, ho * stride - h],
      [0, 0],
      [0, 0],
    ])
    .reshape([n * ho, stride, w * c])
    .slice([0, 0, 0], [n * ho, 1, w * c]);
  return tf
    .pad(rows.reshape([n, ho, w, c]), [
      [0, 0],
      [0, 0],
      [0, wo * stride - w],
      [0, 0],
    ])
    .reshape([n * ho * wo, stride, c])
    .slice([0, 0, 0], [n * ho * wo, 1, c])
    .reshape([n, ho, wo, c]);
}

function validate(x: T4, w: T4, stride: number, dilation: number): void {
  if (x.rank !== 4 || w.rank !== 4) throw new SegError(`conv2d: expected NHWC input and HWIO filter, got ranks ${x.rank} and ${w.rank}`);
  const k = w.shape[0];
  if (k !== w.shape[1] || k % 2 === 0) throw new SegError(`conv2d: expected a square odd kernel, got ${w.shape[0]}x${w.shape[1]}`);
  if (x.shape[3] !== w.shape[2]) throw new SegError(`conv2d: input has ${x.shape[3]} channels, filter expects ${w.shape[2]}`);
  if (stride !== 1 && stride !== 2) throw new SegError(`conv2d: stride must be 1 or 2, got ${stride}`);
  if (!Number.isInteger(dilation) || dilation < 1) throw new SegError(`conv2d: dilation must be an integer >= 1, got ${dilation}`);
}

/**
 * Whether tfjs's own Conv2D gradient should be used: only where tfjs has one (dilation 1),
 * and only on backends with real backprop kernels: tensorflow (native) and webgpu (one
 * kernel per gradient instead of the rearrangements and convs below).
 */
function useNativeGradient(dilation: number): boolean {
  return dilation === 1 && activeBackendTraits().nativeConvGradient;
}

/**
 * conv2d(x NHWC, w HWIO) with stride 1|2, any dilation, PyTorch 'same' padding, and
 * input and filter gradients on every backend.
 */
export function conv2d(x: T4, w: T4, options: Conv2dOptions = {}): T4 {
  const stride = options.stride ?? 1;
  const dilation = options.dilation ?? 1;
  validate(x, w, stride, dilation);
  const k = w.shape[0];
  const pad = samePadding(k, dilation);
  if (useNativeGradient(dilation)) return rawConv(x, w, stride, dilation, pad);
  if (stride > 1 && dilation > 1) {
    // tfjs refuses stride and dilation > 1 together: compute at stride 1, then subsample.
    return subsample(conv2d(x, w, { stride: 1, dilation }), stride);
  }
  if (options.inputGradient === false) {
    const filterOnly = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [wi, save] = args as [T4, tf.GradSaveFunc];
      save([wi]);
      return {
        value: rawConv(x, wi, stride, dilation, pad),
        gradFunc: (dy: tf.Tensor) => [filterGradient(dy as T4, x, k, stride, dilation, pad)],
      };
    });
    return filterOnly(w) as T4;
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [T4, T4, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: rawConv(xi, wi, stride, dilation, pad),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [T4, T4];
        const dy4 = dy as T4;
        return [inputGradient(dy4, ws, xs.shape, stride, dilation, pad), filterGradient(dy4, xs, k, stride, dilation, pad)];
      },
    };
  });
  return op(x, w) as T4;
}

/** Output spatial size of conv2d for an input size. */
export function conv2dOutputSize(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}
