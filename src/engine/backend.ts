/**
 * Backend choice. `auto` tries, in order of speed: tensorflow (through
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), wasm, cpu; the result says
 * which one runs and why the better ones were passed over.
 */
import { tf } from './tf.js';
import { SegError, expectedOneOf } from '../core/errors.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

export interface BackendSelection {
  /** The backend now active. */
  name: BackendName;
  /** For tensorflow: which package provided it. */
  provider?: string;
  /** One line per better backend that was passed over, saying why. */
  passedOver: string[];
}

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

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

async function activate(name: BackendName): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Make `choice` the active tfjs backend. An explicitly requested backend that cannot
 * load is a SegError saying how to install it.
 */
export async function selectBackend(choice: BackendChoice): Promise<BackendSelection> {
  const passedOver: string[] = [];
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
          `libtensorflow at install time. Or use --backend wasm.`,
        '--backend',
      );
    }
    passedOver.push(`tensorflow: ${why}`);
  }
  if (choice === 'wasm' || choice === 'auto') {
    if (await activate('wasm')) {
      await tf.ready();
      return { name: 'wasm', passedOver };
    }
    if (choice === 'wasm') {
      throw new SegError(
        '--backend',
      );
    }
  }
  if (!(await activate('cpu'))) {
  }
  await tf.ready();
  return { name: 'cpu', passedOver };
}

/** "backend: wasm (tensorflow: @tensorflow/tfjs-node-gpu is not installed; ...)" */
export function describeSelection(sel: BackendSelection): string {
  const head = sel.provider !== undefined ? `backend: ${sel.name} via ${sel.provider}` : `backend: ${sel.name}`;
  return sel.passedOver.length > 0 ? `${head} (passed over ${sel.passedOver.join('; ')})` : head;
}

export function activeBackend(): string {
  return tf.getBackend();
}
