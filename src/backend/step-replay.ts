/**
 * A recorded piece of GPU work (step-recorder.ts), replayed as one command encoder and one
 * submit: one bind group per dispatch built once, every uniform in one buffer written once,
 * constant uploads written once into the buffers that keep them (or, where a buffer is
 * reused for other data within the work, copied from one device-resident constant buffer).
 * Replaying costs a few microseconds of host time per dispatch, against tfjs's 100-170.
 *
 * Buffer ownership is what makes this safe next to eager tfjs work:
 * - scratch buffers (free in tfjs's pool once the recorded work ended) are taken out of the
 *   pool, so no eager op can be handed one and see it overwritten by a replay;
 * - buffers held by live tensors (the weights, momentum and BN statistics that training
 *   updates in place, cached constants) stay tfjs's; if tfjs ever releases one (a tensor
 *   disposed, a variable assigned anew: a resume), the replay is invalidated before the
 *   buffer can be reused, and the caller records again;
 * - buffers the caller owns (a step's inputs) are written by the caller before each replay.
 * A buffer the work reads before writing it must be one of the last two kinds: its
 * contents at the start of a replay must be what they were at the start of the recording.
 */
import { BufferUsage, MAP_READ_MODE, type GpuBindGroup, type GpuBuffer, type GpuComputePipeline, type GpuQuerySet } from './gpu-types.js';
import type { RecordedOp, Recording } from './step-recorder.js';
import { flushTfjs, type WebgpuBackendInternals, type WebgpuBufferPool } from './webgpu-internals.js';

export interface ReplayPlan {
  recording: Recording;
  backend: WebgpuBackendInternals;
  /** Buffers the caller owns and writes before each replay (a step's inputs). */
  external: ReadonlySet<GpuBuffer>;
  /** The buffer holding the work's result, copied out and read after each replay. */
  result: { buffer: GpuBuffer; bytes: number };
}

type ReplayOp =
  | { kind: 'dispatch'; pipeline: GpuComputePipeline; group: GpuBindGroup; x: number; y: number; z: number }
  | { kind: 'copy'; src: GpuBuffer; srcOffset: number; dst: GpuBuffer; dstOffset: number; size: number };

export interface KernelTime {
  /** The program's shader key up to its first separator (tfjs's program name). */
  kernel: string;
  count: number;
  ms: number;
}

export interface ReplayProfile {
  /** GPU time of every dispatch, summed per kernel, largest first. */
  kernels: KernelTime[];
  /** Sum of all dispatches' GPU time. */
  kernelMs: number;
}

/** Replays registered on a buffer pool's live buffers, invalidated when tfjs releases one. */
const guards = new WeakMap<WebgpuBufferPool, Map<GpuBuffer, Set<StepReplay>>>();

function guardPool(pool: WebgpuBufferPool): Map<GpuBuffer, Set<StepReplay>> {
  let registry = guards.get(pool);
  if (registry !== undefined) return registry;
  const table = new Map<GpuBuffer, Set<StepReplay>>();
  registry = table;
  guards.set(pool, table);
  const release = pool.releaseBuffer.bind(pool);
  pool.releaseBuffer = (buffer: GpuBuffer, reuse?: boolean) => {
    const owners = table.get(buffer);
    if (owners !== undefined) for (const replay of [...owners]) replay.invalidate(`a buffer it uses was released by tfjs`);
    release(buffer, reuse);
  };
  return table;
}

function bufferSet(map: Map<string, GpuBuffer[]>): Set<GpuBuffer> {
  const set = new Set<GpuBuffer>();
  for (const list of map.values()) for (const b of list) set.add(b);
  return set;
}

/** Each op's buffers: the ones it reads and the ones it writes (tfjs programs write binding 0). */
function accesses(op: RecordedOp): { reads: GpuBuffer[]; writes: GpuBuffer[] } {
  if (op.kind === 'copy') return { reads: [op.src], writes: [op.dst] };
  if (op.kind === 'upload') return { reads: [], writes: [op.dst] };
  const storage = op.bindings.filter((b) => b.uniform === undefined);
  return {
    reads: storage.filter((b) => b.binding !== 0).map((b) => b.buffer),
    writes: storage.filter((b) => b.binding === 0).map((b) => b.buffer),
  };
}

// tfjs-backend-webgpu 4.22's BinaryOpType and UnaryOpType, in enum order: shader keys carry the number.
const BINARY_OPS =
  'ADD ATAN2 COMPLEX_MULTIPLY_IMAG COMPLEX_MULTIPLY_REAL DIV ELU_DER EQUAL FLOOR_DIV GREATER GREATER_EQUAL LESS LESS_EQUAL LOGICAL_AND LOGICAL_OR MAX MIN MOD MUL NOT_EQUAL POW PRELU SQUARED_DIFFERENCE SUB'.split(
    ' ',
  );
const UNARY_OPS =
  'ABS ACOS ACOSH ASIN ASINH ATAN ATANH CEIL COS COSH ELU ERF EXP EXPM1 FLOOR IS_FINITE IS_INF IS_NAN LINEAR LOG LOG1P LOGICAL_NOT NEG RELU RELU6 LEAKYRELU RECIPROCAL ROUND RSQRT SELU SIGMOID SIGN SIN SINH SOFTPLUS SQRT SQUARE STEP TAN TANH TO_INT'.split(
    ' ',
  );

/** A readable kernel name from a tfjs shader key: "binary:MUL", "unary:RELU", "reduce_sum", "conv2DMM". */
export function kernelName(key: string): string {
  const [first = key, second = ''] = key.split('_');
  if (first === 'binary' || first === 'unary') return `${first}:${(first === 'binary' ? BINARY_OPS : UNARY_OPS)[Number(second)] ?? second}`;
  if (first === 'reduce') return `${first}_${second}`;
  if (first === 'seg') {
    const parts = key.split('_');
    const end = parts.findIndex((p) => !/^[a-z]+$/i.test(p));
    return parts.slice(0, end < 0 ? parts.length : end).join('_');
  }
  return first;
}

export class StepReplay {
  /** Why the replay may no longer run; undefined while it may. */
  invalidReason: string | undefined;
  readonly dispatches: number;
  private readonly ops: ReplayOp[];
  private readonly scratch: GpuBuffer[];
  private readonly guarded: GpuBuffer[];
  private readonly owned: GpuBuffer[];
  private readonly readbacks: Array<{ buffer: GpuBuffer; pending: Promise<void> }>;
  private nextReadback = 0;
  private disposed = false;

  private constructor(
    private readonly plan: ReplayPlan,
    parts: { ops: ReplayOp[]; scratch: GpuBuffer[]; guarded: GpuBuffer[]; owned: GpuBuffer[] },
  ) {
    this.ops = parts.ops;
    this.scratch = parts.scratch;
    this.guarded = parts.guarded;
    this.owned = parts.owned;
    this.dispatches = parts.ops.filter((op) => op.kind === 'dispatch').length;
    const device = plan.backend.device;
    this.readbacks = [0, 1].map(() => ({
      buffer: device.createBuffer({ size: plan.result.bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
      pending: Promise.resolve(),
    }));
    const registry = guardPool(plan.backend.bufferManager);
    for (const b of this.guarded) {
      const owners = registry.get(b) ?? new Set<StepReplay>();
      owners.add(this);
      registry.set(b, owners);
    }
  }

  /** Builds the replay of `plan.recording`, or says why it cannot be replayed. */
  static build(plan: ReplayPlan): StepReplay | string {
    const { recording, backend, external } = plan;
    if (recording.unreplayable !== undefined) return recording.unreplayable;
    const pool = backend.bufferManager;
    const free = bufferSet(pool.freeBuffers);
    const used = bufferSet(pool.usedBuffers);
    const written = new Set<GpuBuffer>();
    const writers = new Map<GpuBuffer, number>();
    const lastWriter = new Map<GpuBuffer, RecordedOp>();
    const kinds = new Map<GpuBuffer, 'scratch' | 'live' | 'external'>();
    const kindOf = (b: GpuBuffer): 'scratch' | 'live' | 'external' | undefined => {
      let kind = kinds.get(b);
      if (kind === undefined) {
        kind = external.has(b) ? 'external' : free.has(b) ? 'scratch' : used.has(b) ? 'live' : undefined;
        if (kind !== undefined) kinds.set(b, kind);
      }
      return kind;
    };
    for (const op of recording.ops) {
      const { reads, writes } = accesses(op);
      for (const b of reads) {
        const kind = kindOf(b);
        if (kind === undefined) return 'the step reads a buffer that is neither tfjs\u2019s nor an input';
        if (!written.has(b) && kind === 'scratch') return 'the step reads a buffer that it frees before it ends';
      }
      for (const b of writes) {
        if (kindOf(b) === undefined) return 'the step writes a buffer that is neither tfjs\u2019s nor an input';
        written.add(b);
        writers.set(b, (writers.get(b) ?? 0) + 1);
        lastWriter.set(b, op);
      }
    }
    if (kindOf(plan.result.buffer) === undefined) return 'the step\u2019s result is in a buffer that is neither tfjs\u2019s nor an input';

    const device = backend.device;
    const align = Math.max(256, device.limits.minUniformBufferOffsetAlignment, device.limits.minStorageBufferOffsetAlignment ?? 0);
    const padded = (bytes: number): number => Math.ceil(bytes / 4) * 4;
    const dispatchOps = recording.ops.filter((op) => op.kind === 'dispatch');
    const owned: GpuBuffer[] = [];
    const uniformBytes = new Uint8Array(Math.max(align, dispatchOps.length * align));
    const uniforms = device.createBuffer({ size: uniformBytes.length, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    owned.push(uniforms);

    // Constant uploads. Into a buffer nothing else writes: written once, here. Into a buffer
    // reused for other data within the step: the constant gets a slice of one constant buffer,
    // and the reads that saw the upload are bound to that slice instead (no copy, no break in
    // the compute pass); a partial upload, or one whose data the buffer keeps after the step,
    // is copied from the slice at its place.
    type Slice = { buffer: GpuBuffer; offset: number; size: number };
    const sliceOf = new Map<RecordedOp, number>();
    let constantBytes = 0;
    for (const op of recording.ops) {
      if (op.kind !== 'upload' || (writers.get(op.dst) ?? 0) <= 1) continue;
      sliceOf.set(op, constantBytes);
      constantBytes += Math.ceil(Math.max(op.dst.size, padded(op.data.length)) / align) * align;
    }
    const constants = device.createBuffer({
      size: Math.max(align, constantBytes),
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
    owned.push(constants);
    if (constantBytes > 0) {
      const all = new Uint8Array(constantBytes);
      for (const [op, offset] of sliceOf) if (op.kind === 'upload') all.set(op.data, offset);
      device.queue.writeBuffer(constants, 0, all);
    }

    const ops: ReplayOp[] = [];
    const rebound = new Map<GpuBuffer, Slice>();
    const read = (b: GpuBuffer): Slice | undefined => rebound.get(b);
    let slot = 0;
    for (const op of recording.ops) {
      if (op.kind === 'dispatch') {
        const offset = slot * align;
        slot += 1;
        const entries = op.bindings.map((b) => {
          if (b.uniform !== undefined) {
            uniformBytes.set(b.uniform, offset);
            return { binding: b.binding, resource: { buffer: uniforms, offset, size: b.uniform.length } };
          }
          const slice = b.binding !== 0 && b.offset === 0 && b.size === undefined ? read(b.buffer) : undefined;
          if (slice !== undefined) return { binding: b.binding, resource: slice };
          return {
            binding: b.binding,
            resource: { buffer: b.buffer, offset: b.offset, ...(b.size !== undefined ? { size: b.size } : {}) },
          };
        });
        const group = device.createBindGroup({ layout: op.layout, entries });
        const [x, y, z] = op.workgroups;
        ops.push({ kind: 'dispatch', pipeline: op.pipeline, group, x, y, z });
      } else if (op.kind === 'copy') {
        const slice = read(op.src);
        ops.push(slice !== undefined ? { ...op, src: slice.buffer, srcOffset: slice.offset + op.srcOffset } : op);
      } else {
        const offset = sliceOf.get(op);
        if (offset === undefined) {
          const bytes = new Uint8Array(padded(op.data.length));
          bytes.set(op.data);
          device.queue.writeBuffer(op.dst, op.dstOffset, bytes);
        } else if (op.dstOffset === 0 && padded(op.data.length) === op.dst.size && lastWriter.get(op.dst) !== op) {
          rebound.set(op.dst, { buffer: constants, offset, size: op.dst.size });
          continue; // reads until the next write of op.dst see the slice
        } else {
          ops.push({ kind: 'copy', src: constants, srcOffset: offset, dst: op.dst, dstOffset: op.dstOffset, size: padded(op.data.length) });
        }
      }
      for (const b of accesses(op).writes) rebound.delete(b);
    }
    device.queue.writeBuffer(uniforms, 0, uniformBytes);

    // Take the scratch buffers out of tfjs's pool (their free lists keep the rest).
    const scratch = [...kinds].filter(([, kind]) => kind === 'scratch').map(([b]) => b);
    const taken = new Set(scratch);
    for (const [key, list] of pool.freeBuffers) {
      const kept = list.filter((b) => !taken.has(b));
      pool.numFreeBuffers -= list.length - kept.length;
      pool.freeBuffers.set(key, kept);
    }
    const guarded = [...kinds].filter(([, kind]) => kind === 'live').map(([b]) => b);
    return new StepReplay(plan, { ops, scratch, guarded, owned });
  }

  get valid(): boolean {
    return this.invalidReason === undefined && !this.disposed;
  }

  invalidate(why: string): void {
    this.invalidReason ??= why;
  }

  /**
   * Encodes the whole work into one command buffer and submits it, after whatever tfjs has
   * pending; resolves to the result's values once the GPU has run it. The caller writes the
   * inputs first. Two replays may be in flight: the host can encode one while the GPU runs
   * the other. `onSubmitted` is called once the work is submitted (host-cost measurements).
   */
  async run(onSubmitted?: () => void): Promise<Float32Array> {
    if (!this.valid) throw new Error(`step replay: cannot run (${this.invalidReason ?? 'disposed'})`);
    const { backend, result } = this.plan;
    const readback = this.readbacks[this.nextReadback] as { buffer: GpuBuffer; pending: Promise<void> };
    this.nextReadback = (this.nextReadback + 1) % this.readbacks.length;
    await readback.pending; // mapped buffers cannot be written: the read two replays ago must be done
    flushTfjs(backend);
    const encoder = backend.device.createCommandEncoder();
    let pass: ReturnType<typeof encoder.beginComputePass> | undefined;
    let pipeline: GpuComputePipeline | undefined;
    for (const op of this.ops) {
      if (op.kind === 'dispatch') {
        pass ??= encoder.beginComputePass();
        if (op.pipeline !== pipeline) {
          pass.setPipeline(op.pipeline);
          pipeline = op.pipeline;
        }
        pass.setBindGroup(0, op.group);
        pass.dispatchWorkgroups(op.x, op.y, op.z);
      } else {
        if (pass !== undefined) {
          pass.end();
          pass = undefined;
          pipeline = undefined;
        }
        encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
      }
    }
    if (pass !== undefined) pass.end();
    encoder.copyBufferToBuffer(result.buffer, 0, readback.buffer, 0, result.bytes);
    backend.device.queue.submit([encoder.finish()]);
    onSubmitted?.();
    const read = readback.buffer.mapAsync(MAP_READ_MODE).then(() => {
      const values = new Float32Array(readback.buffer.getMappedRange().slice(0));
      readback.buffer.unmap();
      return values;
    });
    readback.pending = read.then(
      () => undefined,
      () => undefined,
    );
    return read;
  }

  /**
   * Replays once with a timestamp around every dispatch (each in a pass of its own) and
   * returns the GPU time per kernel. Needs the device's 'timestamp-query' feature.
   */
  async profile(): Promise<ReplayProfile> {
    const { backend } = this.plan;
    const device = backend.device;
    if (!device.features.has('timestamp-query')) throw new Error('profile: the device has no timestamp-query feature');
    const names = new Map<GpuComputePipeline, string>();
    for (const [key, value] of Object.entries(backend.pipelineCache)) {
      if (!(value instanceof Promise)) names.set(value, kernelName(key));
    }
    const dispatchOps = this.ops.filter((op): op is Extract<ReplayOp, { kind: 'dispatch' }> => op.kind === 'dispatch');
    const PER_SET = 2048; // dispatches per query set: 4096 timestamps, the spec's maximum count
    const sets: GpuQuerySet[] = [];
    const resolves: GpuBuffer[] = [];
    for (let i = 0; i < dispatchOps.length; i += PER_SET) {
      const count = 2 * Math.min(PER_SET, dispatchOps.length - i);
      sets.push(device.createQuerySet({ type: 'timestamp', count }));
      resolves.push(device.createBuffer({ size: count * 8, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC }));
    }
    const reads = resolves.map((r) => device.createBuffer({ size: r.size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }));
    try {
      flushTfjs(backend);
      const encoder = device.createCommandEncoder();
      let d = 0;
      for (const op of this.ops) {
        if (op.kind === 'dispatch') {
          const set = sets[Math.floor(d / PER_SET)] as GpuQuerySet;
          const index = (d % PER_SET) * 2;
          const pass = encoder.beginComputePass({
            timestampWrites: { querySet: set, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 },
          });
          pass.setPipeline(op.pipeline);
          pass.setBindGroup(0, op.group);
          pass.dispatchWorkgroups(op.x, op.y, op.z);
          pass.end();
          d += 1;
        } else {
          encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
        }
      }
      sets.forEach((set, i) => {
        const resolve = resolves[i] as GpuBuffer;
        encoder.resolveQuerySet(set, 0, resolve.size / 8, resolve, 0);
        encoder.copyBufferToBuffer(resolve, 0, reads[i] as GpuBuffer, 0, resolve.size);
      });
      device.queue.submit([encoder.finish()]);
      const stamps: bigint[] = [];
      for (const read of reads) {
        await read.mapAsync(MAP_READ_MODE);
        stamps.push(...new BigUint64Array(read.getMappedRange().slice(0)));
        read.unmap();
      }
      const byKernel = new Map<string, KernelTime>();
      let kernelMs = 0;
      dispatchOps.forEach((op, i) => {
        const ns = Number((stamps[2 * i + 1] as bigint) - (stamps[2 * i] as bigint));
        const ms = Math.max(0, ns) / 1e6;
        const kernel = names.get(op.pipeline) ?? 'unknown';
        const entry = byKernel.get(kernel) ?? { kernel, count: 0, ms: 0 };
        entry.count += 1;
        entry.ms += ms;
        byKernel.set(kernel, entry);
        kernelMs += ms;
      });
      return { kernels: [...byKernel.values()].sort((a, b) => b.ms - a.ms), kernelMs };
    } finally {
      for (const s of sets) s.destroy();
      for (const b of [...resolves, ...reads]) b.destroy();
    }
  }

  /** Gives the scratch buffers back to tfjs's pool and stops guarding; the replay cannot run again. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pool = this.plan.backend.bufferManager;
    const registry = guards.get(pool);
    for (const b of this.guarded) {
      const owners = registry?.get(b);
      owners?.delete(this);
      if (owners !== undefined && owners.size === 0) registry?.delete(b);
    }
    // Work queued after this (eager tfjs ops) runs after every replay already submitted, so
    // the buffers may be handed out again at once.
    for (const b of this.scratch) {
      const key = `${b.size}_${b.usage}`;
      const list = pool.freeBuffers.get(key) ?? [];
      list.push(b);
      pool.freeBuffers.set(key, list);
      pool.numFreeBuffers += 1;
    }
    for (const b of this.owned) b.destroy();
    // The readbacks may still be mapping: destroy them once their reads settle.
    for (const r of this.readbacks) void r.pending.then(() => r.buffer.destroy());
  }
}
