import { afterEach, describe, expect, it } from 'vitest';
import { runSeg } from './run-cli.js';

const run = runSeg;

describe('seg info', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('prints params and flops513 as JSON, instantly even for resnet101', async () => {
    const start = Date.now();
    const { code, out } = await run(['info', '--backbone', 'resnet101', '--output-stride', '8', '--classes', '21', '--json']);
    expect(Date.now() - start).toBeLessThan(2000);
    expect(code).toBe(0);
    const json = JSON.parse(out) as { params: number; flops513: number; stages: { name: string; outputStride: number }[] };
    expect(json.params).toBe(58_630_997);
    expect(json.flops513).toBeGreaterThan(4.5e11);
    expect(json.stages.map((s) => s.name)).toEqual([
      'stem',
      'layer1',
      'layer2',
      'layer3',
      'layer4',
      'aspp',
      'decoder',
      'classifier',
      'upsample',
    ]);
    expect(json.stages[4]?.outputStride).toBe(8);
  });

  it('prints a per-stage table; flops513 stays at 513 with another --input-size', async () => {
    const { code, out } = await run(['info', '--backbone', 'resnet50', '--output-stride', '16', '--classes', '21']);
    expect(code).toBe(0);
    expect(out).toContain('parameters: 39,638,869 trainable');
    expect(out).toMatch(/FLOPs at 513x513: \d+\.\d\d G/);
    expect(out).toMatch(/layer4\s+16\s+2048\s+33x33/);
    const a = JSON.parse((await run(['info', '--width', '0.25', '--classes', '5', '--multi-grid', '--json'])).out) as {
      flops513: number;
      flops: number;
    };
    const b = JSON.parse(
      (await run(['info', '--width', '0.25', '--classes', '5', '--multi-grid', '--input-size', '257', '--json'])).out,
    ) as { flops513: number; flops: number };
    expect(b.flops513).toBe(a.flops513);
    expect(b.flops).toBeLessThan(a.flops / 3);
  });

  it("--aux-classifier counts torchvision's aux classifier in the parameters, apart in the FLOPs", async () => {
    const { code, out } = await run(['info', '--backbone', 'resnet101', '--output-stride', '8', '--aux-classifier', '--json']);
    expect(code).toBe(0);
    const json = JSON.parse(out) as { params: number; flops: number; aux: { params: number; flops: number; trainingOnly: boolean } };
    expect(json.params).toBe(60_996_202);
    expect(json.aux).toMatchObject({ params: 60_996_202 - 58_630_997, trainingOnly: true });
    const plain = JSON.parse((await run(['info', '--backbone', 'resnet101', '--output-stride', '8', '--json'])).out) as { flops: number };
    expect(json.flops).toBe(plain.flops);
    const table = await run(['info', '--backbone', 'resnet50', '--output-stride', '8', '--aux-classifier']);
    expect(table.out).toContain('parameters: 42,004,074 trainable');
    expect(table.out).toMatch(/aux classifier: 2,365,205 parameters .* GFLOPs in training only/);
    expect(table.out).toMatch(/aux\*\s+1\s+21\s+513x513\s+2,365,205/);
  });

  it('refuses bad flags with one error line', async () => {
    const bad = await run(['info', '--backbone', 'resnet152']);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe("error: --backbone: got 'resnet152', expected one of resnet18, resnet34, resnet50, resnet101\n");
    expect((await run(['info', '--output-stride', '32'])).err).toMatch(/--output-stride: got '32', expected one of 8, 16/);
    expect((await run(['info', '--width', '0'])).code).toBe(1);
  });
});
