/**
 * The few WebGPU objects seg drives itself (step replay, in-place updates), typed
 * structurally: the WebGPU types come with the optional `webgpu` package, and the library
 * must build without it. Names and constants follow the WebGPU specification.
 */

/** GPUBufferUsage flags (WebGPU spec). */
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;

/** GPUMapMode.READ. */
export const MAP_READ_MODE = 0x1;

export interface GpuBuffer {
  readonly size: number;
  readonly usage: number;
  readonly mapState?: string;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuBufferBinding {
  buffer: GpuBuffer;
  offset?: number;
  size?: number;
}

export interface GpuBindGroupEntry {
  binding: number;
  resource: GpuBufferBinding;
}

export interface GpuBindGroupLayout {
  readonly label?: string;
}

export interface GpuBindGroup {
  readonly label?: string;
}

export interface GpuComputePipeline {
  getBindGroupLayout(index: number): GpuBindGroupLayout;
}

export interface GpuQuerySet {
  destroy(): void;
}

export interface GpuComputePassTimestampWrites {
  querySet: GpuQuerySet;
  beginningOfPassWriteIndex?: number;
  endOfPassWriteIndex?: number;
}

export interface GpuComputePassEncoder {
  setPipeline(pipeline: GpuComputePipeline): void;
  setBindGroup(index: number, group: GpuBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandBuffer {
  readonly label?: string;
}

export interface GpuCommandEncoder {
  beginComputePass(descriptor?: { timestampWrites?: GpuComputePassTimestampWrites }): GpuComputePassEncoder;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  resolveQuerySet(querySet: GpuQuerySet, first: number, count: number, dst: GpuBuffer, dstOffset: number): void;
  finish(): GpuCommandBuffer;
}

export interface GpuQueue {
  submit(buffers: GpuCommandBuffer[]): void;
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuDevice {
  readonly queue: GpuQueue;
  readonly limits: { readonly minUniformBufferOffsetAlignment: number; readonly minStorageBufferOffsetAlignment?: number };
  readonly features: { has(name: string): boolean };
  createBuffer(descriptor: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createBindGroup(descriptor: { layout: GpuBindGroupLayout; entries: GpuBindGroupEntry[] }): GpuBindGroup;
  createCommandEncoder(): GpuCommandEncoder;
  createQuerySet(descriptor: { type: 'timestamp'; count: number }): GpuQuerySet;
}
