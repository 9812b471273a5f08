import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import {
  HOST_RAM_SHARE,
  WASM_LINEAR_MEMORY_BYTES,
  WASM_TENSOR_SHARE,
  activeBackendTraits,
  backendTraits,
  setActiveBackendTraits,
} from '../../src/engine/backend-traits.js';
import { backendMemoryLimit } from '../../src/segmentation/memory-estimate.js';
import { usesHostLoops } from '../../src/engine/rearrange.js';
import { NO_SYNC_READ_BACKEND, registerNoSyncReadBackend } from './no-sync-read-backend.js';

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('backend traits', () => {
  it('has one row per backend seg offers', () => {
    const row = (name: string, provider?: string) => {
      const t = backendTraits(name, provider);
      return [
        t.hostTensors,
        t.nativeConvGradient,
        t.nativePoolGradient,
        t.gpu,
        t.device,
        t.webgpuKernels,
        t.abortsOnMemoryFailure,
        t.memory.kind,
      ];
    };
    // hostTensors, conv grad, pool grad, gpu, device, webgpu kernels, aborts, memory
    expect(row('wasm')).toEqual([true, false, false, false, 'cpu', false, true, 'linear']);
    expect(row('cpu')).toEqual([true, false, false, false, 'cpu', false, false, 'host-ram']);
    expect(row('webgpu')).toEqual([false, true, false, true, 'webgpu', true, false, 'unknown']);
    expect(row('tensorflow', '@tensorflow/tfjs-node-gpu')).toEqual([false, true, true, true, 'cuda', false, false, 'unknown']);
    expect(row('tensorflow', '@tensorflow/tfjs-node')).toEqual([false, true, true, false, 'cpu', false, false, 'unknown']);
    // A backend seg does not offer (webgl, a test's) keeps data on the device, with seg's own gradients and no limit.
    expect(row('webgl')).toEqual([false, false, false, false, 'unknown', false, false, 'unknown']);
    expect(backendTraits('webgl').name).toBe('webgl');
  });

  it('gives the memory limits the memory check uses', () => {
    expect(backendTraits('wasm').memory).toEqual({ kind: 'linear', totalBytes: WASM_LINEAR_MEMORY_BYTES, tensorShare: WASM_TENSOR_SHARE });
    expect(backendMemoryLimit('wasm').bytes).toBe(4 * 2 ** 30 * 0.7);
    expect(backendMemoryLimit('wasm').description).toBe(
      'the wasm backend (4 GiB of linear memory in all, about 2.80 GiB of it for tensors)',
    );
    expect(backendMemoryLimit('cpu', 10 * 2 ** 30).bytes).toBe(10 * 2 ** 30 * HOST_RAM_SHARE);
    expect(backendMemoryLimit('cpu', 8 * 2 ** 30).description).toBe("the cpu backend (80% of this machine's 8.00 GiB RAM)");
    expect(backendMemoryLimit('webgpu')).toEqual({ bytes: undefined, description: 'the webgpu backend (no known limit)' });
  });

  it('follows the active backend, computed once per backend and kept', async () => {
    await tf.setBackend('cpu');
    const cpu = activeBackendTraits();
    expect(cpu.name).toBe('cpu');
    expect(activeBackendTraits()).toBe(cpu);
    expect(usesHostLoops()).toBe(true);
    await registerNoSyncReadBackend();
    await tf.setBackend(NO_SYNC_READ_BACKEND);
    expect(activeBackendTraits().name).toBe(NO_SYNC_READ_BACKEND);
    expect(activeBackendTraits().hostTensors).toBe(false);
    expect(usesHostLoops()).toBe(false);
    await tf.setBackend('cpu');
    // selectBackend records the provider: the tensorflow row then knows whether it is a GPU one.
    expect(setActiveBackendTraits('tensorflow', '@tensorflow/tfjs-node-gpu').gpu).toBe(true);
    expect(activeBackendTraits().name).toBe('cpu');
  });
});
