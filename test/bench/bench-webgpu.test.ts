import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { benchmarkModel, countKernels } from '../../src/bench/model-benchmark.js';
import { selectBackend } from '../../src/backend/select-backend.js';
import { probeWebgpu } from '../../src/backend/webgpu.js';

const MAIN = 'dist/cli/main.js';
const webgpu = await probeWebgpu();
const webgpuSkip = webgpu.adapter === undefined ? (process.env['SEG_LAVAPIPE_UNAVAILABLE'] ?? webgpu.missing) : undefined;

describe('bench and the webgpu backend', () => {
  it.skipIf(!existsSync(MAIN))('`seg bench train --backend webgpu` without a GPU says what is missing and exits 1', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VK_DRIVER_FILES: '/nonexistent/no-vulkan-driver.json' };
    delete env['LD_LIBRARY_PATH'];
    const run = spawnSync(process.execPath, [MAIN, 'bench', 'train', '--backend', 'webgpu', '--steps', '1'], {
      env,
      encoding: 'utf8',
      timeout: 600_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /--backend webgpu: (no GPU adapter was found|no Vulkan loader \(libvulkan\.so\.1\) was found|the optional package)/,
    );
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/); // no JavaScript stack trace
  });

  it('reports backend, adapter and the kernels of a step', async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    const result = await benchmarkModel('infer', {
      model: { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false },
      size: 32,
      batch: 1,
      steps: 1,
      warmup: 1,
    });
    expect(result.backend).toBe('wasm');
    expect(result.adapter).toBeNull();
    // 20 convs + 1 classifier + ASPP (5 convs) at least, and every conv is counted
    expect(result.topKernels?.['Conv2D']).toBeGreaterThanOrEqual(26);
    expect(result.kernelsPerStep).toBeGreaterThan(result.topKernels?.['Conv2D'] as number);
  });

  it.skipIf(webgpuSkip !== undefined)('on webgpu, times replayed steps and reports their host cost against eager steps', async () => {
    await selectBackend('webgpu');
    const result = await benchmarkModel('train', {
      model: { backbone: 'resnet18', outputStride: 16, width: 0.125, numClasses: 3, multiGrid: false },
      size: 32,
      batch: 2,
      steps: 1,
      warmup: 1,
      compareEager: true,
    });
    expect(result.captured).toBe(true);
    expect(result.hostTime).toBe('main-thread');
    expect(result.hostMsPerStep).toBeGreaterThan(0);
    expect(result.eager?.hostMsPerStep).toBeGreaterThan(0);
    expect(result.eager?.kernelsPerStep).toBe(result.kernelsPerStep);
    expect(result.kernelsPerStep).toBeGreaterThan(500);
    expect(result.hostCostRatio).toBeCloseTo((result.eager?.hostMsPerStep as number) / (result.hostMsPerStep as number), 0);
    expect(result.tensorsAfter).toBe(result.tensorsBefore);
  });

  it('countKernels counts computing kernels only', async () => {
    await tf.setBackend('cpu');
    const counted = await countKernels(async () => {
      const out = tf.tidy(() => tf.add(tf.mul(tf.ones([2, 3]), 2), tf.ones([2, 3])).reshape([3, 2]));
      await out.data();
      out.dispose();
    });
    expect(counted.top).toEqual({ Add: 1, Multiply: 1 }); // no Reshape
    expect(counted.total).toBe(2);
  });
});
