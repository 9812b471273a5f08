/**
 * Records what tfjs's webgpu backend asks of Dawn while a piece of work is issued: every
 * dispatch (pipeline, bind group entries with the uniform bytes they hold, workgroups),
 * every buffer copy, and every upload of CPU data (with its bytes), in order. The recording
 * is what step-replay.ts replays. Recording hooks the WebGPU objects' prototypes for the
 * duration of one synchronous call; anything the replay could not reproduce (a texture, a
 * map for reading, a write to a storage buffer through the queue) marks the recording
 * unreplayable, with the reason.
 */
import {
  BufferUsage,
  type GpuBindGroup,
  type GpuBindGroupEntry,
  type GpuBindGroupLayout,
  type GpuBuffer,
  type GpuComputePipeline,
  type GpuDevice,
} from './gpu-types.js';

export interface RecordedBinding {
  binding: number;
  buffer: GpuBuffer;
  offset: number;
  size?: number;
  /** For a uniform binding: the bytes tfjs wrote into it for this dispatch. */
  uniform?: Uint8Array;
}

export type RecordedOp =
  | {
      kind: 'dispatch';
      pipeline: GpuComputePipeline;
      layout: GpuBindGroupLayout;
      bindings: RecordedBinding[];
      workgroups: [number, number, number];
    }
  | { kind: 'copy'; src: GpuBuffer; srcOffset: number; dst: GpuBuffer; dstOffset: number; size: number }
  | { kind: 'upload'; dst: GpuBuffer; dstOffset: number; data: Uint8Array };

export interface Recording {
  ops: RecordedOp[];
  /** Why the recording cannot be replayed; undefined when it can. */
  unreplayable?: string;
}

type Method = (...args: unknown[]) => unknown;
type Proto = Record<string, unknown>;

interface BindGroupDescriptorLike {
  layout: GpuBindGroupLayout;
  entries: GpuBindGroupEntry[];
}

function protoOf(value: object): Proto {
  return Object.getPrototypeOf(value) as Proto;
}

function bytesOf(data: ArrayBufferView | ArrayBuffer, dataOffset = 0, size?: number): Uint8Array {
  const view = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
  const element =
    ArrayBuffer.isView(data) && 'BYTES_PER_ELEMENT' in data ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
  const start = view.byteOffset + dataOffset * element;
  const length = size !== undefined ? size * element : view.byteLength - dataOffset * element;
  return new Uint8Array(view.buffer.slice(start, start + length));
}

/**
 * Hooks Dawn's objects of `device` while `work` runs and returns what it issued. Queue
 * writes into buffers for which `isInput` is true belong to the caller (a captured step's
 * inputs) and are not recorded.
 */
export function recordGpuWork<T>(
  device: GpuDevice,
  isInput: (buffer: GpuBuffer) => boolean,
  work: () => T,
): { result: T; recording: Recording } {
  const ops: RecordedOp[] = [];
  let unreplayable: string | undefined;
  const refuse = (why: string): void => {
    unreplayable ??= why;
  };
  const lastWrite = new WeakMap<GpuBuffer, Uint8Array>();
  const bindGroups = new WeakMap<GpuBindGroup, BindGroupDescriptorLike>();
  const mappedRanges = new WeakMap<GpuBuffer, ArrayBuffer[]>();
  const staged = new WeakMap<GpuBuffer, Uint8Array>();
  let pipeline: GpuComputePipeline | undefined;
  let bindGroup: GpuBindGroup | undefined;

  // The prototypes, from objects of this device (no globals needed).
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.end();
  encoder.finish();
  const probeBuffer = device.createBuffer({ size: 4, usage: BufferUsage.COPY_DST });
  const protos = {
    device: protoOf(device),
    queue: protoOf(device.queue),
    encoder: protoOf(encoder),
    pass: protoOf(pass),
    buffer: protoOf(probeBuffer),
  };
  probeBuffer.destroy();

  const saved: Array<[Proto, string, unknown]> = [];
  const hook = (proto: Proto, name: string, around: (original: Method, self: unknown, args: unknown[]) => unknown): void => {
    const original = proto[name];
    if (typeof original !== 'function') return;
    saved.push([proto, name, original]);
    proto[name] = function (this: unknown, ...args: unknown[]) {
      return around(original as Method, this, args);
    };
  };
  const call = (original: Method, self: unknown, args: unknown[]): unknown => original.apply(self, args);

  hook(protos.pass, 'setPipeline', (original, self, args) => {
    pipeline = args[0] as GpuComputePipeline;
    return call(original, self, args);
  });
  hook(protos.pass, 'setBindGroup', (original, self, args) => {
    if (args[0] !== 0 || (args.length > 2 && args[2] !== undefined))
      refuse('a bind group at an index other than 0, or with dynamic offsets');
    bindGroup = args[1] as GpuBindGroup;
    return call(original, self, args);
  });
  hook(protos.pass, 'dispatchWorkgroups', (original, self, args) => {
    const descriptor = bindGroup !== undefined ? bindGroups.get(bindGroup) : undefined;
    if (pipeline === undefined || descriptor === undefined) refuse('a dispatch whose bind group was made before recording began');
    else {
      ops.push({
        kind: 'dispatch',
        pipeline,
        layout: descriptor.layout,
        bindings: descriptor.entries.map((e) => {
          const buffer = e.resource.buffer;
          const uniform = (buffer.usage & BufferUsage.UNIFORM) !== 0 ? lastWrite.get(buffer) : undefined;
          if ((buffer.usage & BufferUsage.UNIFORM) !== 0 && uniform === undefined)
            refuse('a uniform buffer written before recording began');
          return {
            binding: e.binding,
            buffer,
            offset: e.resource.offset ?? 0,
            ...(e.resource.size !== undefined ? { size: e.resource.size } : {}),
            ...(uniform !== undefined ? { uniform } : {}),
          };
        }),
        workgroups: [args[0] as number, (args[1] as number | undefined) ?? 1, (args[2] as number | undefined) ?? 1],
      });
    }
    return call(original, self, args);
  });
  hook(protos.pass, 'dispatchWorkgroupsIndirect', (original, self, args) => {
    refuse('an indirect dispatch');
    return call(original, self, args);
  });
  hook(protos.encoder, 'copyBufferToBuffer', (original, self, args) => {
    if (typeof args[1] !== 'number') {
      refuse('a buffer copy in the three-argument form');
      return call(original, self, args);
    }
    const [src, srcOffset, dst, dstOffset, size] = args as [GpuBuffer, number, GpuBuffer, number, number];
    const data = staged.get(src);
    if ((dst.usage & BufferUsage.MAP_READ) !== 0) refuse('a read back to the CPU inside the step');
    else if (data !== undefined) ops.push({ kind: 'upload', dst, dstOffset, data: data.slice(srcOffset, srcOffset + size) });
    else ops.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size });
    return call(original, self, args);
  });
  for (const name of ['copyBufferToTexture', 'copyTextureToBuffer', 'copyTextureToTexture', 'clearBuffer', 'resolveQuerySet']) {
    hook(protos.encoder, name, (original, self, args) => {
      refuse(`a command the replay does not reproduce (${name})`);
      return call(original, self, args);
    });
  }
  hook(protos.queue, 'writeBuffer', (original, self, args) => {
    const [buffer, offset, data, dataOffset, size] = args as [
      GpuBuffer,
      number,
      ArrayBufferView | ArrayBuffer,
      number | undefined,
      number | undefined,
    ];
    if (!isInput(buffer)) {
      if ((buffer.usage & BufferUsage.UNIFORM) === 0 || offset !== 0) refuse('a queue write into a storage buffer');
      else lastWrite.set(buffer, bytesOf(data, dataOffset, size));
    }
    return call(original, self, args);
  });
  hook(protos.queue, 'writeTexture', (original, self, args) => {
    refuse('a texture upload');
    return call(original, self, args);
  });
  hook(protos.device, 'createBindGroup', (original, self, args) => {
    const group = call(original, self, args) as GpuBindGroup;
    const descriptor = args[0] as BindGroupDescriptorLike;
    bindGroups.set(group, {
      layout: descriptor.layout,
      entries: descriptor.entries.map((e) => ({ binding: e.binding, resource: { ...e.resource } })),
    });
    return group;
  });
  hook(protos.buffer, 'getMappedRange', (original, self, args) => {
    const range = call(original, self, args) as ArrayBuffer;
    const buffer = self as GpuBuffer;
    if ((buffer.usage & BufferUsage.MAP_READ) === 0) mappedRanges.set(buffer, [...(mappedRanges.get(buffer) ?? []), range]);
    return range;
  });
  hook(protos.buffer, 'mapAsync', (original, self, args) => {
    refuse('a buffer mapped inside the step');
    return call(original, self, args);
  });
  hook(protos.buffer, 'unmap', (original, self, args) => {
    const buffer = self as GpuBuffer;
    const ranges = mappedRanges.get(buffer);
    if (ranges !== undefined) {
      mappedRanges.delete(buffer);
      if (ranges.length !== 1) refuse('a buffer mapped in several ranges');
      const data = new Uint8Array((ranges[0] as ArrayBuffer).slice(0));
      // Mapped at creation: a new tensor buffer filled directly, or a staging buffer copied later.
      if ((buffer.usage & BufferUsage.STORAGE) !== 0) ops.push({ kind: 'upload', dst: buffer, dstOffset: 0, data });
      else staged.set(buffer, data);
    }
    return call(original, self, args);
  });

  let result: T;
  try {
    result = work();
  } finally {
    for (const [proto, name, original] of saved.reverse()) proto[name] = original;
  }
  return { result, recording: { ops, ...(unreplayable !== undefined ? { unreplayable } : {}) } };
}
