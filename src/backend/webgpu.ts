/**
 * WebGPU in Node: Dawn's bindings (the optional `webgpu` package, Vulkan on Linux, Metal on
 * macOS, D3D12 on Windows) provide `navigator.gpu`, then the optional
 * @tensorflow/tfjs-backend-webgpu registers tfjs's 'webgpu' backend on it. Both are loaded
 * with guarded dynamic imports: without them, or without a GPU, the probe says what is missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf } from './tf.js';
import { registerFusedBatchNormKernel } from './fused-batch-norm.js';

export interface WebgpuAdapter {
  /** e.g. "nvidia nvidia-h200" or "mesa llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  description: string;
  /** A CPU rasteriser (llvmpipe, SwiftShader): correct but slower than wasm. */
  software: boolean;
}

export interface WebgpuProbe {
  adapter?: WebgpuAdapter;
  /** Why there is no adapter: what to install. */
  missing?: string;
}

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface AdapterLike {
  info?: AdapterInfoLike;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface WebgpuModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

const INSTALL = "install them with 'npm install webgpu @tensorflow/tfjs-backend-webgpu'";
const DRIVERS =
  'a GPU driver with Vulkan support is needed on Linux (the Vulkan loader libvulkan1 plus the vendor ICD: ' +
  'the NVIDIA driver, or mesa-vulkan-drivers for AMD/Intel), Metal on macOS, D3D12 on Windows';

let cached: Promise<WebgpuProbe> | undefined;
let dawnFlags: string[] = [];

/**
 * Benchmarks only: run the webgpu backend on Dawn's null backend, which executes nothing
 * (every read returns zeros), so a step's host cost can be measured alone. Call before the
 * first probe.
 */
export function useDawnNullBackend(): void {
  if (cached !== undefined) throw new Error('useDawnNullBackend: the webgpu backend was already probed');
  dawnFlags = ['backend=null'];
}

/** Whether the webgpu backend runs on Dawn's null backend (see useDawnNullBackend). */
export function onDawnNullBackend(): boolean {
  return dawnFlags.includes('backend=null');
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function firstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] as string) : String(err);
}

/** Whether the dynamic linker can find libvulkan.so.1 (Linux only; elsewhere true). */
export function vulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(env['LD_LIBRARY_PATH'] ?? '').split(':').filter((d) => d !== ''),
    '/lib/x86_64-linux-gnu',
    '/usr/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.device ?? ''} ${info.description ?? ''}`);
}

/** "nvidia nvidia-h200", "mesa llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
export function describeAdapter(info: AdapterInfoLike): string {
  const what = info.description !== undefined && info.description !== '' ? info.description : (info.device ?? '');
  const vendor = info.vendor ?? '';
  const text = what.toLowerCase().startsWith(vendor.toLowerCase()) ? what : `${vendor} ${what}`;
  return text.trim() === '' ? 'unnamed adapter' : text.trim();
}

async function importOptional(pkg: string): Promise<unknown> {
  // A variable specifier keeps TypeScript from requiring the optional package's types.
  const specifier: string = pkg;
  return import(specifier);
}

async function probe(): Promise<WebgpuProbe> {
  let webgpu: WebgpuModule;
  try {
    webgpu = (await importOptional('webgpu')) as WebgpuModule;
  } catch (err) {
    const why = isModuleNotFound(err)
      ? 'the optional package webgpu is not installed'
      : `the webgpu package failed to load (${firstLine(err)})`;
    return { missing: `${why}; ${INSTALL}` };
  }
  if (!onDawnNullBackend() && !vulkanLoaderPresent()) {
    return { missing: `no Vulkan loader (libvulkan.so.1) was found; ${DRIVERS}` };
  }
  let gpu: GpuLike;
  let adapter: AdapterLike | null;
  try {
    gpu = webgpu.create(dawnFlags);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { missing: `Dawn could not start (${firstLine(err)}); ${DRIVERS}` };
  }
  if (adapter === null) return { missing: `no GPU adapter was found; ${DRIVERS}` };
  const info = adapter.info ?? {};
  const found: WebgpuAdapter = { description: describeAdapter(info), software: isSoftwareAdapter(info) };
  if (tf.findBackendFactory('webgpu') === null) {
    const scope = globalThis as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(webgpu.globals)) if (!(key in scope)) scope[key] = value;
    const nav = (scope['navigator'] ?? {}) as Record<string, unknown>;
    if (nav['gpu'] === undefined) {
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      if (scope['navigator'] === undefined) scope['navigator'] = nav;
    }
    try {
      await importOptional('@tensorflow/tfjs-backend-webgpu');
    } catch (err) {
      const why = isModuleNotFound(err)
        ? 'the optional package @tensorflow/tfjs-backend-webgpu is not installed'
        : `@tensorflow/tfjs-backend-webgpu failed to load (${firstLine(err)})`;
      return { missing: `${why}; ${INSTALL}` };
    }
    if (tf.findBackendFactory('webgpu') === null) return { missing: '@tensorflow/tfjs-backend-webgpu registered no webgpu backend' };
    registerFusedBatchNormKernel();
  }
  return { adapter: found };
}

/**
 * Look for a WebGPU adapter once per process (fast: tens of ms without Vulkan, about a second
 * with a software one) and register tfjs's webgpu backend when one is found.
 */
export function probeWebgpu(): Promise<WebgpuProbe> {
  cached ??= probe();
  return cached;
}

/**
 * Ask a child process which adapter Dawn finds. Dawn's native code prints driver warnings
 * straight to stderr while it looks (for example for a Vulkan driver it cannot use), so
 * `auto` looks in a child first and loads Dawn here only when a hardware adapter is there.
 * Undefined when the child could not tell (the in-process probe then decides).
 */
function adapterFromChild(): WebgpuProbe | undefined {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
  const script = [
    `const m = await import(${JSON.stringify(pathToFileURL(entry).href)});`,
    "const a = await m.create([]).requestAdapter({ powerPreference: 'high-performance' });",
    'const i = a?.info ?? {};',
    'process.stdout.write(JSON.stringify(a ? { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description } : null));',
    'process.exit(0);',
  ].join('\n');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) return { missing: `Dawn could not start in a probe process (exit ${child.status ?? child.signal}); ${DRIVERS}` };
  let info: AdapterInfoLike | null;
  try {
    info = JSON.parse(child.stdout) as AdapterInfoLike | null;
  } catch {
    return undefined;
  }
  if (info === null) return { missing: `no GPU adapter was found; ${DRIVERS}` };
  return { adapter: { description: describeAdapter(info), software: isSoftwareAdapter(info) } };
}

/**
 * The probe for `auto`: like probeWebgpu, but Dawn is loaded into this process only when a
 * hardware adapter exists, so machines without a usable GPU see no driver warnings.
 */
export async function probeWebgpuQuietly(): Promise<WebgpuProbe> {
  if (cached !== undefined || dawnFlags.length > 0 || !vulkanLoaderPresent()) return probeWebgpu();
  const found = adapterFromChild();
  if (found === undefined || (found.adapter !== undefined && !found.adapter.software)) return probeWebgpu();
  return found;
}
