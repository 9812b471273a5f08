/** Weights by name: the real URLs, the cache, and the torchvision DeepLabV3 conversion, through a loopback server. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import {
  checkpointCacheDir,
  fetchNamedCheckpoint,
  fetchNamedWeights,
  lookupWeights,
  type NamedWeights,
  resolveCheckpointSource,
  resolvePretrainedSource,
  weightsCacheFile,
  weightsUrl,
} from '../../src/checkpoint/named-weights.js';
import { loadTrainedModel } from '../../src/checkpoint/load-model.js';
import { readStateDict } from '../../src/checkpoint/state-dict-file.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { segHome } from '../../src/core/cache-dir.js';
import { DownloadError } from '../../src/core/http-download.js';
import { VOC_CLASSES } from '../../src/datasets/classes.js';
import { hwioToOihw } from '../../src/checkpoint/weight-layout.js';
import { type LoopbackServer, redirect, serveBytes, startLoopbackServer } from '../core/loopback-server.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'pth');
const quick = { download: { retryDelayMs: 0, retries: 0 } };

describe('weights names', () => {
  it('map to torchvision files (with their SHA-256 prefix) and timm hub repositories', () => {
    const r101 = lookupWeights('torchvision:resnet101', '--pretrained');
    expect(r101).toMatchObject({
      name: 'torchvision:resnet101.imagenet1k_v2',
      file: 'resnet101-cd907fc2.pth',
      sha256: 'cd907fc2',
      kind: 'backbone',
    });
    expect(weightsUrl(r101, { env: {} })).toBe('https://download.pytorch.org/models/resnet101-cd907fc2.pth');
    expect(lookupWeights('torchvision:resnet50.IMAGENET1K_V1', 'x').file).toBe('resnet50-0676ba61.pth');
    const coco = lookupWeights('torchvision:deeplabv3_resnet101', '--checkpoint');
    expect(coco).toMatchObject({ kind: 'segmentation', backbone: 'resnet101', sha256: '586e9e4e' });
    expect(weightsUrl(coco, { env: {} })).toBe('https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth');
    expect(weightsUrl(lookupWeights('torchvision:deeplabv3_resnet50', 'x'), { env: {} })).toBe(
      'https://download.pytorch.org/models/deeplabv3_resnet50_coco-cd0a2569.pth',
    );
    const timm = lookupWeights('timm:resnet101.a1h_in1k', 'x');
    expect(timm.sha256).toBeUndefined(); // the hub publishes it (X-Linked-Etag)
    expect(weightsUrl(timm, { env: {} })).toBe('https://huggingface.co/timm/resnet101.a1h_in1k/resolve/main/model.safetensors');
    expect(lookupWeights('timm:resnet50', 'x').name).toBe('timm:resnet50.a1_in1k');
    expect(weightsUrl(timm, { env: { HF_ENDPOINT: 'http://hub.local/' } })).toBe(
      'http://hub.local/timm/resnet101.a1h_in1k/resolve/main/model.safetensors',
    );
    expect(weightsUrl(r101, { env: { SEG_TORCHVISION_MIRROR: 'http://mirror/models' } })).toBe(
      'http://mirror/models/resnet101-cd907fc2.pth',
    );
    expect(() => lookupWeights('timm:resnet50.xyz', '--pretrained')).toThrow(/timm has no 'xyz' weights for resnet50; its tags: a1_in1k/);
    expect(() => lookupWeights('torchvision:vgg16', '--pretrained', true)).toThrow(
      /--pretrained torchvision:vgg16: no such file, and not a weights name; expected a file or one of torchvision:resnet18/,
    );
  });

  it('live in SEG_HOME, or the user cache folder', () => {
    expect(segHome({ SEG_HOME: '/data/seg' }, 'linux')).toBe('/data/seg');
    expect(segHome({ XDG_CACHE_HOME: '/xdg' }, 'linux')).toBe('/xdg/seg');
    expect(segHome({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32')).toMatch(/Local.seg$/);
    expect(segHome({}, 'darwin')).toMatch(/Library\/Caches\/seg$/);
  });
});

describe('fetching named weights', () => {
  let server: LoopbackServer;
  let home: string;
  const deeplab = fs.readFileSync(path.join(FIXTURES, 'deeplabv3_tiny.pth'));
  const deeplabSha = createHash('sha256').update(deeplab).digest('hex');
  let timmBytes: Buffer;

  beforeAll(async () => {
    await tf.setBackend('wasm');
    home = tempDir('seg-home-');
    const timmFile = path.join(home, 'timm-source.safetensors');
    writeSafetensors(timmFile, new Map([['conv1.weight', { shape: [2, 3, 1, 1], data: Float32Array.of(1, 2, 3, 4, 5, 6) }]]));
    timmBytes = fs.readFileSync(timmFile);
    const timmSha = createHash('sha256').update(timmBytes).digest('hex');
    server = await startLoopbackServer({
      '/models/deeplabv3_resnet50_coco-cd0a2569.pth': serveBytes(deeplab),
      '/models/deeplabv3_tiny-test.pth': serveBytes(deeplab),
      '/timm/resnet18.a1_in1k/resolve/main/model.safetensors': redirect('/blob/timm-r18', { 'x-linked-etag': `"${timmSha}"` }),
      '/blob/timm-r18': serveBytes(timmBytes),
    });
  });
  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  it('downloads a hub file once into the cache, checked against the SHA-256 the hub publishes', async () => {
    const env = { HF_ENDPOINT: server.url };
    const file = await resolvePretrainedSource('timm:resnet18', { home, env, ...quick });
    expect(file).toBe(path.join(home, 'weights', 'timm-resnet18.a1_in1k.safetensors'));
    expect(Buffer.compare(fs.readFileSync(file), timmBytes)).toBe(0);
    const hits = server.requests.length;
    expect(await resolvePretrainedSource('timm:resnet18.a1_in1k', { home, env, ...quick })).toBe(file);
    expect(server.requests.length).toBe(hits); // cached: no request
    // a path stays a path
    expect(await resolvePretrainedSource(file, { home, env })).toBe(file);
  });

  it('refuses a file whose SHA-256 does not start with the prefix in its torchvision name, naming the URL and the cache path', async () => {
    const w = lookupWeights('torchvision:deeplabv3_resnet50', '--checkpoint');
    const env = { SEG_TORCHVISION_MIRROR: `${server.url}/models` };
    let caught: unknown;
    try {
      await resolveCheckpointSource('torchvision:deeplabv3_resnet50', { home, env, ...quick });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DownloadError);
    const message = (caught as Error).message;
    expect(message).toContain(`${server.url}/models/deeplabv3_resnet50_coco-cd0a2569.pth`);
    expect(message).toContain(weightsCacheFile(w, home));
    expect(message).toMatch(/expected one starting with cd0a2569/);
    expect(fs.existsSync(weightsCacheFile(w, home))).toBe(false);
    expect(fs.existsSync(checkpointCacheDir(w, home))).toBe(false);
  });

  it('makes a torchvision DeepLabV3 file into a ready seg checkpoint, once: VOC classes, ImageNet normalisation, softmax, OS 8', async () => {
    const w: NamedWeights = {
      name: 'torchvision:deeplabv3_tiny',
      kind: 'segmentation',
      backbone: 'resnet18',
      source: 'torchvision',
      file: 'deeplabv3_tiny-test.pth',
      sha256: deeplabSha.slice(0, 8),
      description: 'test',
      published: 'none',
    };
    const env = { SEG_TORCHVISION_MIRROR: `${server.url}/models` };
    const logs: string[] = [];
    const dir = await fetchNamedCheckpoint(w, { home, env, log: (l) => logs.push(l), ...quick });
    expect(dir).toBe(checkpointCacheDir(w, home));
    expect(logs.join('\n')).not.toMatch(/left out/); // aux_classifier.* included: every tensor of the file is used
    const trained = loadTrainedModel(dir);
    try {
      expect(trained.config.model).toEqual({
        backbone: 'resnet18',
        outputStride: 8,
        width: 1 / 64,
        numClasses: 21,
        multiGrid: false,
        auxClassifier: true,
      });
      expect([...trained.model.params.keys()].filter((k) => k.startsWith('aux_classifier.'))).toHaveLength(5);
      expect(trained.config.classNames).toEqual(VOC_CLASSES);
      expect(trained.config.head).toBe('softmax');
      expect(trained.normalization).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
      expect(trained.config.training).toMatchObject({
        weights: 'torchvision:deeplabv3_tiny',
        url: `${server.url}/models/deeplabv3_tiny-test.pth`,
      });
      // every weight equals the file's (conv kernels back in OIHW)
      const { tensors } = readStateDict(path.join(FIXTURES, 'deeplabv3_tiny.pth'));
      for (const [name, v] of [...trained.model.params, ...trained.model.buffers]) {
        const want = tensors.get(name);
        expect(want, name).toBeDefined();
        const got = hwioToOihw((await v.data()) as Float32Array, v.shape);
        expect(Array.from(got), name).toEqual(Array.from(want?.data as Float32Array));
      }
      expect(trained.model.batchesTracked).toBe(7);
    } finally {
      trained.model.dispose();
    }
    const hits = server.requests.length;
    expect(await fetchNamedCheckpoint(w, { home, env, ...quick })).toBe(dir);
    expect(server.requests.length).toBe(hits);
    // the downloaded .pth stays in the cache (for --pretrained or a later conversion)
    expect(fs.existsSync(weightsCacheFile(w, home))).toBe(true);
  });

  it('refuses backbone weights as a --checkpoint, pointing to --pretrained', async () => {
    await expect(fetchNamedCheckpoint(lookupWeights('torchvision:resnet50', 'x'), { home })).rejects.toThrow(
      /ImageNet backbone weights, not a segmentation model; start training from them with seg train --pretrained torchvision:resnet50/,
    );
    await expect(
      fetchNamedWeights(lookupWeights('torchvision:resnet50', 'x'), {
        home,
        env: { SEG_TORCHVISION_MIRROR: `${server.url}/models` },
        ...quick,
      }),
    ).rejects.toThrow(/not found \(HTTP 404\)/);
  });
});
