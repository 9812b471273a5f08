import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { describeSelection, parseBackendChoice, resolveBackendChoice, selectBackend } from '../../src/backend/select-backend.js';
import { describeAdapter, isSoftwareAdapter, probeWebgpu, vulkanLoaderPresent } from '../../src/backend/webgpu.js';

describe('backend choice', () => {
  it('accepts webgpu from the flag and SEG_BACKEND, and names the choices otherwise', () => {
    expect(parseBackendChoice('webgpu')).toBe('webgpu');
    expect(resolveBackendChoice(undefined, { SEG_BACKEND: 'webgpu' })).toBe('webgpu');
    expect(() => parseBackendChoice('gpu')).toThrow(/auto.*tensorflow.*webgpu.*wasm.*cpu/);
  });

  it('auto probes webgpu without letting Dawn print to stderr when no hardware adapter is there', () => {
    // A fresh process, as a user's: the probe's own driver warnings must not reach them.
    const backend = new URL('../../dist/backend/select-backend.js', import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(backend)}); const s = await m.selectBackend('auto'); process.stdout.write(JSON.stringify(s));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 600_000 });
    expect(child.status, child.stderr).toBe(0);
    const selection = JSON.parse(child.stdout) as { name: string; passedOver: string[]; adapter?: string };
    if (selection.name === 'webgpu') return; // a real GPU: Dawn was meant to load
    expect(child.stderr).toBe('');
    expect(selection.passedOver.some((line) => line.startsWith('webgpu: '))).toBe(true);
  });

  it("--backend webgpu where Vulkan loads but no driver works: the clean error only, none of Dawn's native warnings", (ctx) => {
    if (!vulkanLoaderPresent()) return ctx.skip('no Vulkan loader here: Dawn has nothing to warn about');
    if (!webgpuInstalled()) return ctx.skip('the optional webgpu package is not installed');
    // An ICD whose library does not exist: the loader and Dawn print warnings with C++ source paths.
    const dir = mkdtempSync(join(tmpdir(), 'seg-bogus-icd-'));
    const icd = join(dir, 'bogus_icd.json');
    writeFileSync(icd, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir, 'none.so'), api_version: '1.1.0' } }));
    try {
      const backend = new URL('../../dist/backend/select-backend.js', import.meta.url).href;
      const script = `const m = await import(${JSON.stringify(backend)}); try { await m.selectBackend('webgpu'); } catch (e) { process.stdout.write(e.message); }`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, VK_DRIVER_FILES: icd, VK_ICD_FILENAMES: icd },
      });
      expect(child.status, child.stderr).toBe(0);
      expect(child.stdout).toMatch(/^--backend webgpu: no GPU adapter was found; .*Or use --backend wasm\.$/);
      expect(child.stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells software adapters from hardware ones and describes them', () => {
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', device: 'swiftshader device' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200' })).toBe(false);
    expect(describeAdapter({ vendor: 'nvidia', device: 'nvidia-h200', description: '' })).toBe('nvidia-h200');
    expect(describeAdapter({ vendor: 'amd', device: 'radeon-rx-7900' })).toBe('amd radeon-rx-7900');
    expect(describeAdapter({ vendor: 'mesa', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7' })).toBe(
      'mesa llvmpipe: Mesa 25.0.7',
    );
    expect(describeAdapter({})).toBe('unnamed adapter');
  });

  it.runIf(process.platform === 'linux')('finds the Vulkan loader in LD_LIBRARY_PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seg-vulkan-'));
    writeFileSync(join(dir, 'libvulkan.so.1'), '');
    expect(vulkanLoaderPresent({ LD_LIBRARY_PATH: `/nonexistent:${dir}` })).toBe(true);
    rmSync(dir, { recursive: true });
  });

  it('auto never picks a software WebGPU adapter and says why webgpu was passed over', async () => {
    const probe = await probeWebgpu();
    const sel = await selectBackend('auto');
    const line = describeSelection(sel);
    if (probe.adapter === undefined || probe.adapter.software) {
      expect(sel.name).toBe('wasm');
      expect(line).toMatch(/passed over .*webgpu: /);
      if (probe.adapter?.software === true) expect(line).toMatch(/only a software adapter .* slower than wasm/);
    } else {
      expect(sel.name).toBe('webgpu');
      expect(line).toContain(probe.adapter.description);
    }
  });

  it('an explicit webgpu without an adapter is a SegError naming what is missing', async () => {
    const probe = await probeWebgpu();
    if (probe.adapter !== undefined) return; // covered by the webgpu tests
    await expect(selectBackend('webgpu')).rejects.toThrow(/--backend webgpu: .*(adapter|Vulkan|webgpu)/);
  });
});

function webgpuInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return true;
  } catch {
    return false;
  }
}
