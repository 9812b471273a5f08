/**
 * A tfjs backend for tests: the cpu backend's kernels under another name, with synchronous
 * reads (`dataSync`, `arraySync`, `bufferSync`, all through `readSync`) throwing, as they fail
 * on webgpu in Node. Only the cpu kernels themselves (which read their inputs through
 * readSync) may read synchronously: each registered kernel is wrapped to mark that. Code that runs to the end on it reads tensors only with `await data()`;
 * its name is neither cpu nor wasm, so seg takes its device-side (GPU) code paths.
 */
import { tf } from '../../src/backend/tf.js';

export const NO_SYNC_READ_BACKEND = 'cpu-no-sync-read';

export class SyncReadError extends Error {}

export async function registerNoSyncReadBackend(): Promise<void> {
  if (tf.findBackendFactory(NO_SYNC_READ_BACKEND) !== null) return;
  await tf.setBackend('cpu');
  const cpu = tf.findBackend('cpu');
  if (cpu === null) throw new Error('the cpu backend is not available');
  const Cpu = cpu.constructor as new () => tf.KernelBackend;
  let kernelDepth = 0;
  class NoSyncRead extends Cpu {
    override readSync(dataId: object): tf.backend_util.BackendValues {
      if (kernelDepth === 0) throw new SyncReadError(`synchronous read on ${NO_SYNC_READ_BACKEND}: use await data()`);
      return super.readSync(dataId);
    }
    override read(dataId: object): Promise<tf.backend_util.BackendValues> {
      // the cpu backend's own read goes through readSync
      return Promise.resolve(super.readSync(dataId));
    }
  }
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    const run = kernel.kernelFunc;
    tf.registerKernel({
      ...kernel,
      backendName: NO_SYNC_READ_BACKEND,
      kernelFunc: (params) => {
        kernelDepth += 1;
        try {
          return run(params);
        } finally {
          kernelDepth -= 1;
        }
      },
    });
  }
  tf.registerBackend(NO_SYNC_READ_BACKEND, () => new NoSyncRead(), 0);
}
