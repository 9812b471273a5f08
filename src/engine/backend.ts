/**
 * Backend choice. `auto` tries, in order of speed: tensorflow (through
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), webgpu (Dawn's Node bindings,
 * when a hardware GPU adapter is found), wasm, cpu; the result says which one runs and why
 * the better ones were passed over.
 */
import { tf } from './tf.js';
import { SegError, expectedOneOf } from '../core/errors.js';
import { probeWebgpu, probeWebgpuQuietly, type WebgpuProbe } from './webgpu.js';
import { type BackendTraits, activeBackendTraits, setActiveBackendTraits } from './backend-traits.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

export interface BackendSelection {
  /** The backend now active. */
  name: BackendName;
  /** For tensorflow: which package provided it. */
  provider?: string;
  /** For webgpu: the GPU adapter, e.g. "nvidia nvidia-h200". */
  adapter?: string;
  /** One line per better backend that was passed over, saying why. */
  passedOver: string[];
  /** What seg needs to know about it (host loops, native gradients, GPU, memory), computed once here. */
  traits: BackendTraits;
}

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let activeAdapterDescription: string | undefined;

export function parseBackendChoice(value: string, flag = '--backend'): BackendChoice {
  const choice = BACKEND_CHOICES.find((c) => c === value);
  if (choice === undefined) throw expectedOneOf(flag, value, BACKEND_CHOICES);
  return choice;
}

/** The choice from the flag if given, else SEG_BACKEND, else auto. */
export function resolveBackendChoice(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  if (flag !== undefined) return parseBackendChoice(flag, '--backend');
  const fromEnv = env['SEG_BACKEND'];
  if (fromEnv !== undefined && fromEnv !== '') return parseBackendChoice(fromEnv, 'SEG_BACKEND');
  return 'auto';
}

function describeLoadFailure(pkg: string, err: unknown): string {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    const text = String((err as Error).message);
    if (text.includes(pkg)) return `${pkg} is not installed`;
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return `${pkg} failed to load (${message})`;
}

/** Import a tfjs-node flavour; it registers the 'tensorflow' backend as a side effect. */
async function loadTensorflow(): Promise<{ provider?: string; failures: string[] }> {
  const failures: string[] = [];
  if (tf.findBackend('tensorflow') !== null) return { provider: 'already registered', failures };
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      // A variable specifier keeps TypeScript from requiring the optional package's types.
      const specifier: string = pkg;
      await import(specifier);
      if (tf.findBackend('tensorflow') !== null) return { provider: pkg, failures };
      failures.push(`${pkg} loaded but registered no tensorflow backend`);
    } catch (err) {
      failures.push(describeLoadFailure(pkg, err));
    }
  }
  return { failures };
}

async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function activateWebgpu(probe: WebgpuProbe): Promise<string | undefined> {
  if (probe.adapter === undefined) return probe.missing;
  // Small kernels run on the GPU too: handing them to the CPU cost about 20% of a
  // ResNet-18 step on an NVIDIA H200.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (await activate('webgpu')) return undefined;
  return `the tfjs webgpu backend did not initialise on ${probe.adapter.description}`;
}

/**
 * The probe for an explicit `--backend webgpu`: asked in a child process first, as `auto`
 * does, so that where no adapter is usable (a Vulkan driver Dawn rejects, a broken ICD)
 * Dawn's native warnings stay in the child and only the clean error is shown. A software
 * adapter, which `auto` passes over, is loaded here: it was asked for.
 */
async function probeWebgpuAsked(): Promise<WebgpuProbe> {
  const quiet = await probeWebgpuQuietly();
  return quiet.adapter?.software === true ? probeWebgpu() : quiet;
}

/**
 * Make `choice` the active tfjs backend. An explicitly requested backend that cannot
 * load is a SegError saying how to install it.
 */
export async function selectBackend(choice: BackendChoice): Promise<BackendSelection> {
  const selection = await activateBackend(choice);
  return { ...selection, traits: setActiveBackendTraits(selection.name, selection.provider) };
}

async function activateBackend(choice: BackendChoice): Promise<Omit<BackendSelection, 'traits'>> {
  const passedOver: string[] = [];
  activeAdapterDescription = undefined;
  if (choice === 'tensorflow' || choice === 'auto') {
    const { provider, failures } = await loadTensorflow();
    if (provider !== undefined && (await activate('tensorflow'))) {
      await tf.ready();
      return { name: 'tensorflow', provider, passedOver };
    }
    const why = failures.length > 0 ? failures.join('; ') : 'the tensorflow backend did not initialise';
    if (choice === 'tensorflow') {
      throw new SegError(
        `--backend tensorflow: ${why}. Install it with 'npm install @tensorflow/tfjs-node-gpu' ` +
          `(CUDA 11.2 + cuDNN 8.1) or 'npm install @tensorflow/tfjs-node' (CPU); both download ` +
          `libtensorflow at install time. For a GPU without CUDA use --backend webgpu; or use --backend wasm.`,
        '--backend',
      );
    }
    passedOver.push(`tensorflow: ${why}`);
  }
  if (choice === 'webgpu' || choice === 'auto') {
    const probe = choice === 'auto' ? await probeWebgpuQuietly() : await probeWebgpuAsked();
    if (choice === 'webgpu') {
      const why = await activateWebgpu(probe);
      if (why !== undefined) throw new SegError(`--backend webgpu: ${why}. Or use --backend wasm.`, '--backend');
      await tf.ready();
      activeAdapterDescription = probe.adapter?.description;
      return { name: 'webgpu', adapter: probe.adapter?.description as string, passedOver };
    }
    if (probe.adapter?.software) {
      passedOver.push(
        `webgpu: only a software adapter (${probe.adapter.description}) was found, which runs on the CPU and is slower than wasm`,
      );
    } else {
      const why = await activateWebgpu(probe);
      if (why === undefined) {
        await tf.ready();
        activeAdapterDescription = probe.adapter?.description;
        return { name: 'webgpu', adapter: probe.adapter?.description as string, passedOver };
      }
      passedOver.push(`webgpu: ${why}`);
    }
  }
  if (choice === 'wasm' || choice === 'auto') {
    if (await activate('wasm')) {
      await tf.ready();
      return { name: 'wasm', passedOver };
    }
    if (choice === 'wasm') {
      throw new SegError(
        `--backend wasm: the wasm backend failed to initialise (is @tensorflow/tfjs-backend-wasm installed with its .wasm files?). ` +
          `Reinstall with 'npm ci', or use --backend cpu.`,
        '--backend',
      );
    }
    passedOver.push('wasm: the wasm backend failed to initialise');
  }
  if (!(await activate('cpu'))) {
    throw new SegError('--backend cpu: the cpu backend failed to initialise; reinstall with npm ci', '--backend');
  }
  await tf.ready();
  return { name: 'cpu', passedOver };
}

/** "backend: wasm (passed over tensorflow: @tensorflow/tfjs-node-gpu is not installed; ...)" */
export function describeSelection(sel: BackendSelection): string {
  const via = sel.provider !== undefined ? ` via ${sel.provider}` : sel.adapter !== undefined ? ` on ${sel.adapter}` : '';
  const head = `backend: ${sel.name}${via}`;
  return sel.passedOver.length > 0 ? `${head} (passed over ${sel.passedOver.join('; ')})` : head;
}

export function activeBackend(): string {
  return tf.getBackend();
}

/** The GPU adapter of the active webgpu backend, when webgpu was selected here. */
export function activeAdapter(): string | undefined {
  return activeBackendTraits().device === 'webgpu' ? activeAdapterDescription : undefined;
}
