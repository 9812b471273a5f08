/**
 * Weight layouts: tfjs convs are HWIO [kh, kw, in, out], PyTorch's are OIHW [out, in, kh, kw].
 * Files (checkpoints, pretrained backbones) hold the PyTorch layout so they are
 * interchangeable with torchvision state dicts; models in memory hold HWIO.
 */

/** OIHW shape for an HWIO shape (other ranks unchanged). */
export function torchShape(shape: readonly number[]): number[] {
  if (shape.length !== 4) return [...shape];
  const [kh, kw, i, o] = shape as [number, number, number, number];
  return [o, i, kh, kw];
}

/** HWIO shape for an OIHW shape (other ranks unchanged). */
export function tfjsShape(shape: readonly number[]): number[] {
  if (shape.length !== 4) return [...shape];
  const [o, i, kh, kw] = shape as [number, number, number, number];
  return [kh, kw, i, o];
}

/** HWIO data of `shape` (HWIO) to OIHW; other ranks are returned as is. */
export function hwioToOihw<T extends Float32Array | Int32Array>(data: T, shape: readonly number[]): T {
  if (shape.length !== 4) return data;
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        const src = ((y * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[src + o] as number;
      }
    }
  }
  return out;
}

/** OIHW data of `shape` (OIHW) to HWIO; other ranks are returned as is. */
export function oihwToHwio<T extends Float32Array | Int32Array>(data: T, shape: readonly number[]): T {
  if (shape.length !== 4) return data;
  const [co, ci, kh, kw] = shape as [number, number, number, number];
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let o = 0; o < co; o++) {
    for (let i = 0; i < ci; i++) {
      for (let y = 0; y < kh; y++) {
        const src = ((o * ci + i) * kh + y) * kw;
        for (let x = 0; x < kw; x++) out[((y * kw + x) * ci + i) * co + o] = data[src + x] as number;
      }
    }
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
