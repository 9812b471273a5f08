/**
 * Weights by name, downloaded once into seg's cache (core/cache-dir.ts):
 *
 *   torchvision:resnet18|34|50|101[.imagenet1k_v1|.imagenet1k_v2]   ImageNet ResNets (.pth);
 *       the bare name is torchvision's DEFAULT (V2 where there is one)
 *   torchvision:deeplabv3_resnet50|101        COCO subset with the 20 VOC classes: converted
 *       once into a ready seg checkpoint (21 classes, ImageNet normalisation, softmax, OS 8)
 *   timm:resnet18|34|50|101[.<tag>]           timm's ImageNet ResNets on the Hugging Face hub
 *       (model.safetensors); the bare name is timm's default tag
 *
 * The URLs are the real ones: download.pytorch.org/models/<name>-<sha256 prefix>.pth (the
 * prefix is checked, as torch.hub does) and <hub>/timm/<model>/resolve/main/model.safetensors
 * (the hub publishes the full SHA-256, which the downloader checks). Mirrors:
 * SEG_TORCHVISION_MIRROR replaces https://download.pytorch.org/models, HF_ENDPOINT the hub
 * (as huggingface_hub reads it; HF_TOKEN is sent to it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { segHome } from '../core/cache-dir.js';
import { SegError } from '../core/errors.js';
import { downloadFile, type DownloadOptions } from '../core/http-download.js';
import type { BackboneName } from '../backbones/backbone.js';
import { checkpointExists } from './checkpoint.js';
import { importSegmentationWeights } from './segmentation-import.js';

export type WeightsKind = 'backbone' | 'segmentation';

export interface NamedWeights {
  /** The canonical name, e.g. `torchvision:resnet101`. */
  name: string;
  kind: WeightsKind;
  backbone: BackboneName;
  source: 'torchvision' | 'timm';
  /** File name in the cache (and on the server, for torchvision). */
  file: string;
  /** Hex SHA-256 or its prefix, when known in advance. */
  sha256?: string;
  description: string;
  /** What the weights' authors report (ImageNet top-1, or mIoU on COCO val with VOC labels, %). */
  published: string;
}

export const TORCHVISION_BASE = 'https://download.pytorch.org/models';
export const HUB_BASE = 'https://huggingface.co';

interface TorchvisionEntry {
  file: string;
  backbone: BackboneName;
  kind: WeightsKind;
  description: string;
  published: string;
}

/** torchvision 0.14's weights (models/resnet.py, models/segmentation/deeplabv3.py). */
const TORCHVISION: Record<string, TorchvisionEntry> = {
  'resnet18.imagenet1k_v1': {
    file: 'resnet18-f37072fd.pth',
    backbone: 'resnet18',
    kind: 'backbone',
    description: 'ResNet-18, ImageNet-1k (IMAGENET1K_V1)',
    published: 'ImageNet top-1 69.758%',
  },
  'resnet34.imagenet1k_v1': {
    file: 'resnet34-b627a593.pth',
    backbone: 'resnet34',
    kind: 'backbone',
    description: 'ResNet-34, ImageNet-1k (IMAGENET1K_V1)',
    published: 'ImageNet top-1 73.314%',
  },
  'resnet50.imagenet1k_v1': {
    file: 'resnet50-0676ba61.pth',
    backbone: 'resnet50',
    kind: 'backbone',
    description: "ResNet-50, ImageNet-1k (IMAGENET1K_V1, the backbone of torchvision's DeepLabV3 recipe)",
    published: 'ImageNet top-1 76.130%',
  },
  'resnet50.imagenet1k_v2': {
    file: 'resnet50-11ad3fa6.pth',
    backbone: 'resnet50',
    kind: 'backbone',
    description: 'ResNet-50, ImageNet-1k (IMAGENET1K_V2, torchvision DEFAULT)',
    published: 'ImageNet top-1 80.858%',
  },
  'resnet101.imagenet1k_v1': {
    file: 'resnet101-63fe2227.pth',
    backbone: 'resnet101',
    kind: 'backbone',
    description: "ResNet-101, ImageNet-1k (IMAGENET1K_V1, the backbone of torchvision's DeepLabV3 recipe)",
    published: 'ImageNet top-1 77.374%',
  },
  'resnet101.imagenet1k_v2': {
    file: 'resnet101-cd907fc2.pth',
    backbone: 'resnet101',
    kind: 'backbone',
    description: 'ResNet-101, ImageNet-1k (IMAGENET1K_V2, torchvision DEFAULT)',
    published: 'ImageNet top-1 81.886%',
  },
  deeplabv3_resnet50: {
    file: 'deeplabv3_resnet50_coco-cd0a2569.pth',
    backbone: 'resnet50',
    kind: 'segmentation',
    description: 'DeepLabV3 ResNet-50, OS 8, COCO subset with the 20 VOC classes (COCO_WITH_VOC_LABELS_V1)',
    published: 'COCO val2017 (VOC labels) mIoU 66.4%, pixel accuracy 92.4% (images resized to 520 px)',
  },
  deeplabv3_resnet101: {
    file: 'deeplabv3_resnet101_coco-586e9e4e.pth',
    backbone: 'resnet101',
    kind: 'segmentation',
    description: 'DeepLabV3 ResNet-101, OS 8, COCO subset with the 20 VOC classes (COCO_WITH_VOC_LABELS_V1)',
    published: 'COCO val2017 (VOC labels) mIoU 67.4%, pixel accuracy 92.4% (images resized to 520 px)',
  },
};

/** torchvision's DEFAULT for each bare name. */
const TORCHVISION_DEFAULTS: Record<string, string> = {
  resnet18: 'resnet18.imagenet1k_v1',
  resnet34: 'resnet34.imagenet1k_v1',
  resnet50: 'resnet50.imagenet1k_v2',
  resnet101: 'resnet101.imagenet1k_v2',
};

/** timm's pretrained tags of its plain ResNets (timm/models/resnet.py; the first is timm's default). */
const TIMM_TAGS: Record<string, readonly string[]> = {
  resnet18: ['a1_in1k', 'a2_in1k', 'a3_in1k', 'tv_in1k', 'gluon_in1k', 'fb_ssl_yfcc100m_ft_in1k', 'fb_swsl_ig1b_ft_in1k'],
  resnet34: ['a1_in1k', 'a2_in1k', 'a3_in1k', 'bt_in1k', 'tv_in1k', 'gluon_in1k'],
  resnet50: [
    'a1_in1k',
    'a1h_in1k',
    'a2_in1k',
    'a3_in1k',
    'b1k_in1k',
    'b2k_in1k',
    'c1_in1k',
    'c2_in1k',
    'd_in1k',
    'ram_in1k',
    'am_in1k',
    'ra_in1k',
    'bt_in1k',
    'tv_in1k',
    'tv2_in1k',
    'gluon_in1k',
    'fb_ssl_yfcc100m_ft_in1k',
    'fb_swsl_ig1b_ft_in1k',
  ],
  resnet101: ['a1h_in1k', 'a1_in1k', 'a2_in1k', 'a3_in1k', 'tv_in1k', 'tv2_in1k', 'gluon_in1k'],
};

function torchvisionWeights(key: string): NamedWeights {
  const e = TORCHVISION[key] as TorchvisionEntry;
  const sha256 = /-([0-9a-f]{8,})\.pth$/.exec(e.file)?.[1];
  return {
    name: `torchvision:${key}`,
    kind: e.kind,
    backbone: e.backbone,
    source: 'torchvision',
    file: e.file,
    ...(sha256 !== undefined ? { sha256 } : {}),
    description: e.description,
    published: e.published,
  };
}

function timmWeights(arch: string, tag: string): NamedWeights {
  const licence = tag.startsWith('fb_') ? '; CC-BY-NC 4.0: non-commercial use only' : '';
  return {
    name: `timm:${arch}.${tag}`,
    kind: 'backbone',
    backbone: arch as BackboneName,
    source: 'timm',
    file: `timm-${arch}.${tag}.safetensors`,
    description: `timm ${arch}.${tag} (ImageNet-1k${licence})`,
    published: 'see the model card on the hub',
  };
}

/** Every name seg knows, canonical forms (bare torchvision/timm names are aliases of one of them). */
export function knownWeightsNames(): string[] {
  return [
    ...Object.keys(TORCHVISION_DEFAULTS).map((k) => `torchvision:${k}`),
    ...Object.keys(TORCHVISION).map((k) => `torchvision:${k}`),
    ...Object.entries(TIMM_TAGS).flatMap(([arch, tags]) => [`timm:${arch}`, ...tags.map((t) => `timm:${arch}.${t}`)]),
  ];
}

/** True when `text` is written like a weights name (`torchvision:...`, `timm:...`). */
export function isWeightsName(text: string): boolean {
  return /^(torchvision|timm):/i.test(text);
}

/**
 * The weights a name stands for; an unknown name is a SegError about `flag` listing the known
 * ones (`fileAllowed`: the flag also takes a file, so say that none was found).
 */
export function lookupWeights(text: string, flag: string, fileAllowed = false): NamedWeights {
  const m = /^(torchvision|timm):([\w.]+)$/i.exec(text.trim());
  const source = m?.[1]?.toLowerCase();
  const id = m?.[2]?.toLowerCase() ?? '';
  if (source === 'torchvision') {
    const key = TORCHVISION_DEFAULTS[id] ?? id;
    if (key in TORCHVISION) return torchvisionWeights(key);
  }
  if (source === 'timm') {
    const [arch, tag] = id.split('.', 2) as [string, string | undefined];
    const tags = TIMM_TAGS[arch];
    if (tags !== undefined && (tag === undefined || tags.includes(tag))) return timmWeights(arch, tag ?? (tags[0] as string));
    if (tags !== undefined) {
      throw new SegError(`${flag} ${text}: timm has no '${tag}' weights for ${arch}; its tags: ${tags.join(', ')}`, flag);
    }
  }
  throw new SegError(
    `${flag} ${text}: ${fileAllowed ? 'no such file, and not a' : 'unknown'} weights name; expected ${fileAllowed ? 'a file or ' : ''}one of ${[
      'torchvision:resnet18|resnet34|resnet50|resnet101[.imagenet1k_v1|.imagenet1k_v2]',
      'torchvision:deeplabv3_resnet50|deeplabv3_resnet101',
      'timm:resnet18|resnet34|resnet50|resnet101[.<tag>]',
    ].join(', ')} (seg weights list shows them all)`,
    flag,
  );
}

export interface WeightsFetchOptions {
  /** The cache folder (default: segHome(env)). */
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** A base URL replacing the source's (download.pytorch.org/models, or the hub). */
  mirror?: string;
  onProgress?: DownloadOptions['onProgress'];
  log?: (line: string) => void;
  /** Downloader settings (tests shorten them). */
  download?: Pick<DownloadOptions, 'stallTimeoutMs' | 'retries' | 'retryDelayMs'>;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The URL the weights are fetched from (mirrors applied). */
export function weightsUrl(w: NamedWeights, options: Pick<WeightsFetchOptions, 'env' | 'mirror'> = {}): string {
  const env = options.env ?? process.env;
  if (w.source === 'torchvision') {
    const base = options.mirror ?? env.SEG_TORCHVISION_MIRROR ?? TORCHVISION_BASE;
    return `${trimSlash(base === '' ? TORCHVISION_BASE : base)}/${w.file}`;
  }
  const base = options.mirror ?? env.HF_ENDPOINT ?? HUB_BASE;
  const model = w.name.slice('timm:'.length);
  return `${trimSlash(base === '' ? HUB_BASE : base)}/timm/${model}/resolve/main/model.safetensors`;
}

export function weightsCacheFile(w: NamedWeights, home: string): string {
  return join(home, 'weights', w.file);
}

export function checkpointCacheDir(w: NamedWeights, home: string): string {
  return join(home, 'checkpoints', w.name.replace(':', '-'));
}

/** The weights file in the cache, downloaded first when it is not there. */
export async function fetchNamedWeights(w: NamedWeights, options: WeightsFetchOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const home = options.home ?? segHome(env);
  const file = weightsCacheFile(w, home);
  if (existsSync(file)) return file;
  const url = weightsUrl(w, options);
  const token = env.HF_TOKEN;
  options.log?.(`downloading ${w.name} from ${url} to ${file}`);
  await downloadFile({
    url,
    dest: file,
    ...(w.sha256 !== undefined ? { sha256: w.sha256 } : {}),
    ...(w.source === 'timm' && token !== undefined && token !== '' ? { headers: { authorization: `Bearer ${token}` } } : {}),
    ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
    ...options.download,
  });
  return file;
}

/**
 * The seg checkpoint of named segmentation weights, made once in the cache: download, then
 * convert (segmentation-import.ts). Backbone weights are refused here: they start training.
 */
export async function fetchNamedCheckpoint(w: NamedWeights, options: WeightsFetchOptions = {}): Promise<string> {
  if (w.kind !== 'segmentation') {
    throw new SegError(
      `--checkpoint ${w.name}: ImageNet backbone weights, not a segmentation model; start training from them with seg train --pretrained ${w.name}`,
      '--checkpoint',
    );
  }
  const home = options.home ?? segHome(options.env ?? process.env);
  const dir = checkpointCacheDir(w, home);
  if (checkpointExists(dir)) return dir;
  const file = await fetchNamedWeights(w, options);
  const report = await importSegmentationWeights(file, dir, {
    source: { weights: w.name, url: weightsUrl(w, options), published: w.published },
    ...(options.log !== undefined ? { log: options.log } : {}),
  });
  options.log?.(`${w.name}: seg checkpoint written to ${report.dir}`);
  return dir;
}

/** A --pretrained value as a local file: a path as it is, a name downloaded into the cache. */
export async function resolvePretrainedSource(value: string, options: WeightsFetchOptions = {}): Promise<string> {
  if (existsSync(value) || !isWeightsName(value)) return value;
  return fetchNamedWeights(lookupWeights(value, '--pretrained', true), options);
}

/** A --checkpoint value as a checkpoint folder: a path as it is, a name downloaded and converted into the cache. */
export async function resolveCheckpointSource(value: string, options: WeightsFetchOptions = {}): Promise<string> {
  if (existsSync(value) || !isWeightsName(value)) return value;
  return fetchNamedCheckpoint(lookupWeights(value, '--checkpoint', true), options);
}
