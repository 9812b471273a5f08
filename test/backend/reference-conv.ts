/** Float64 reference convolution (PyTorch semantics) and finite differences, for tests. */
export interface ConvCase {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  dilation: number;
}

export function outSize(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}

/** y[n,i,j,co] = sum x[n, s*i + d*a - p, s*j + d*b - p, ci] * w[a,b,ci,co], zero outside. */
export function referenceConv(c: ConvCase, x: Float64Array, wt: Float64Array): Float64Array {
  const p = (c.dilation * (c.k - 1)) / 2;
  const ho = outSize(c.h, c.stride);
  const wo = outSize(c.w, c.stride);
  const y = new Float64Array(c.n * ho * wo * c.cout);
  for (let n = 0; n < c.n; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let a = 0; a < c.k; a++) {
          const r = c.stride * i + c.dilation * a - p;
          if (r < 0 || r >= c.h) continue;
          for (let b = 0; b < c.k; b++) {
            const q = c.stride * j + c.dilation * b - p;
            if (q < 0 || q >= c.w) continue;
            for (let ci = 0; ci < c.cin; ci++) {
              const xv = x[((n * c.h + r) * c.w + q) * c.cin + ci] as number;
              const wBase = ((a * c.k + b) * c.cin + ci) * c.cout;
              const yBase = ((n * ho + i) * wo + j) * c.cout;
              for (let co = 0; co < c.cout; co++) y[yBase + co] = (y[yBase + co] as number) + xv * (wt[wBase + co] as number);
            }
          }
        }
  return y;
}

export function dot(a: Float64Array, b: Float64Array | Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Central differences of f at every coordinate of v (float64). */
export function finiteDifferences(v: Float64Array, f: (v: Float64Array) => number, eps = 1e-5): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const keep = v[i] as number;
    v[i] = keep + eps;
    const up = f(v);
    v[i] = keep - eps;
    const down = f(v);
    v[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** max |a - b| / max(1, max |b|): relative to the gradient's scale. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return maxDiff / scale;
}
