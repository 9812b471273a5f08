/** VOC 2012 and SBD fetched, extracted and converted, from fixture archives written by Python (tools/make_voc_fixtures.py) on a loopback server. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegError } from '../../src/core/errors.js';
import { checkDataset } from '../../src/datasets/dataset-check.js';
import { openDataset } from '../../src/datasets/open-dataset.js';
import { readLabelPng } from '../../src/image/label-png.js';
import { parseMat, matToRowMajorBytes } from '../../src/file-readers/mat-file.js';
import { type ArchiveSpec, downloadVoc2012 } from '../../src/datasets/voc-download.js';
import { walkTar } from '../../src/file-readers/tar-walk.js';
import { type LoopbackServer, serveBytes, startLoopbackServer } from '../core/loopback-server.js';
import { removeTempDirs, tempDir } from './fixtures.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'voc');
const bytesOf = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, name));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const quick = { download: { retries: 0, retryDelayMs: 0 } };
const TRAINAUG = ['2007_000032', '2007_000039', '2008_000002', '2008_000003', '2008_000004'];

let server: LoopbackServer;
let voc: ArchiveSpec;
let sbd: ArchiveSpec;

beforeAll(async () => {
  server = await startLoopbackServer({
    '/VOCtrainval_tiny.tar': serveBytes(bytesOf('VOCtrainval_tiny.tar')),
    '/benchmark_tiny.tgz': serveBytes(bytesOf('benchmark_tiny.tgz')),
  });
  voc = { file: 'VOCtrainval_tiny.tar', url: `${server.url}/VOCtrainval_tiny.tar`, md5: md5(bytesOf('VOCtrainval_tiny.tar')) };
  sbd = { file: 'benchmark_tiny.tgz', url: `${server.url}/benchmark_tiny.tgz`, md5: md5(bytesOf('benchmark_tiny.tgz')) };
});

afterAll(async () => {
  await server.close();
  removeTempDirs();
});

describe('seg data download voc2012', () => {
  it('downloads, extracts VOC, converts SBD to SegmentationClassAug and trainaug.txt; seg data check passes; a rerun does nothing', async () => {
    const out = tempDir('seg-voc-dl-');
    const stages = new Set<string>();
    const result = await downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, onProgress: (stage) => stages.add(stage), ...quick });
    expect(result.root).toBe(path.join(out, 'VOCdevkit', 'VOC2012'));
    expect(result.splits).toEqual({ train: 2, val: 1, trainval: 3, trainaug: 5 });
    expect(result.augLabels).toBe(5);
    expect([...stages].sort()).toEqual(['convert', 'download', 'extract']);
    expect(fs.readFileSync(path.join(result.root, 'ImageSets', 'Segmentation', 'trainaug.txt'), 'utf8')).toBe(`${TRAINAUG.join('\n')}\n`);
    // only the cls labels of SBD were written: no img/, inst/ or .mat files
    expect(
      fs
        .readdirSync(path.join(result.root, 'SegmentationClassAug'))
        .filter((f) => !f.startsWith('.'))
        .sort(),
    ).toEqual(['2007_000032', '2007_000033', '2008_000002', '2008_000003', '2008_000004'].map((id) => `${id}.png`));
    expect(fs.readdirSync(out).sort()).toEqual(['VOCdevkit', 'benchmark_tiny.tgz', 'VOCtrainval_tiny.tar'].sort());

    // each PNG holds exactly the Segmentation field of its .mat (read from the archive independently)
    const mats = new Map<string, Buffer>();
    await walkTar(
      path.join(out, 'benchmark_tiny.tgz'),
      async (m) => {
        if (m.name.includes('/cls/')) mats.set(path.basename(m.name, '.mat'), await m.read());
      },
      { gzip: true },
    );
    for (const [id, bytes] of mats) {
      const gt = parseMat(bytes, id).get('GTcls');
      const seg = gt?.kind === 'struct' ? gt.elements[0]?.get('Segmentation') : undefined;
      const want = matToRowMajorBytes(seg as NonNullable<typeof seg>, 'Segmentation', id);
      const got = readLabelPng(path.join(result.root, 'SegmentationClassAug', `${id}.png`));
      expect({ w: got.width, h: got.height, data: Array.from(got.data) }, id).toEqual({
        w: want.width,
        h: want.height,
        data: Array.from(want.data),
      });
    }
    // VOC's own label wins where both exist (it has the void border)
    expect(openDataset(out).labelPath('2007_000032')).toBe(path.join(result.root, 'SegmentationClass', '2007_000032.png'));
    expect(openDataset(out).labelPath('2008_000002')).toBe(path.join(result.root, 'SegmentationClassAug', '2008_000002.png'));

    for (const split of ['train', 'val', 'trainaug']) {
      const report = await checkDataset(out, split);
      expect(report.problems, split).toEqual([]);
      expect(report.images, split).toBe(result.splits[split]);
    }

    const before = server.requests.length;
    const again = await downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, ...quick });
    expect(again.skipped).toEqual(['voc2012', 'sbd']);
    expect(again.trainaug).toBe(5);
    expect(server.requests.length).toBe(before);
  });

  it('uses archives from a local --mirror folder, checked, and downloads SBD later on its own', async () => {
    const mirror = tempDir('seg-voc-mirror-');
    fs.copyFileSync(path.join(FIXTURES, 'VOCtrainval_tiny.tar'), path.join(mirror, 'VOCtrainval_tiny.tar'));
    const out = tempDir('seg-voc-dl-');
    const before = server.requests.length;
    const first = await downloadVoc2012({ out, voc, mirror, ...quick });
    expect(first.splits).toEqual({ train: 2, val: 1, trainval: 3 });
    expect(server.requests.length).toBe(before);
    expect(fs.existsSync(path.join(out, 'VOCtrainval_tiny.tar'))).toBe(false); // used in place
    const second = await downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, removeArchives: true, ...quick });
    expect(second.skipped).toEqual(['voc2012']);
    expect(second.trainaug).toBe(5);
    expect(fs.existsSync(path.join(out, 'benchmark_tiny.tgz'))).toBe(false);
  });

  it('refuses a wrong download (MD5), naming the URL and the file, leaving nothing', async () => {
    const out = tempDir('seg-voc-dl-');
    const wrong = { ...voc, md5: '0'.repeat(32) };
    await expect(downloadVoc2012({ out, voc: wrong, ...quick })).rejects.toThrow(
      new RegExp(
        `cannot download ${server.url}/VOCtrainval_tiny.tar to .*VOCtrainval_tiny.tar: the file is not the one expected: its MD5 is ${voc.md5}, expected 0{32}`,
      ),
    );
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it.each([
    ['evil_traversal.tar', /member 'VOCdevkit\/\.\.\/\.\.\/outside\.txt' would be written outside the target folder/],
    ['evil_absolute.tar', /member '\/tmp\/seg-evil-absolute\.txt' would be written outside the target folder/],
    ['evil_symlink.tar', /member 'VOCdevkit\/root' is a link to '\/'; seg does not extract links/],
  ])('refuses %s and writes nothing outside (or inside) the folder', async (name, message) => {
    const parent = tempDir('seg-voc-evil-');
    const out = path.join(parent, 'out');
    fs.mkdirSync(out);
    fs.copyFileSync(path.join(FIXTURES, name), path.join(out, 'VOCtrainval_tiny.tar'));
    const spec = { ...voc, md5: md5(bytesOf(name)) };
    await expect(downloadVoc2012({ out, voc: spec, ...quick })).rejects.toThrow(message);
    expect(fs.readdirSync(out)).toEqual(['VOCtrainval_tiny.tar']);
    expect(fs.readdirSync(parent)).toEqual(['out']);
    expect(fs.existsSync('/tmp/seg-evil-absolute.txt') || fs.existsSync('/tmp/seg-evil-symlink.txt')).toBe(false);
  });

  it('refuses truncated archives, leaving no extracted folder', async () => {
    for (const [name, gz] of [
      ['VOCtrainval_tiny.tar', false],
      ['benchmark_tiny.tgz', true],
    ] as const) {
      const out = tempDir('seg-voc-cut-');
      const cut = bytesOf(name).subarray(0, Math.floor(bytesOf(name).length * 0.6));
      const file = path.join(out, name);
      fs.writeFileSync(file, cut);
      let caught: unknown;
      try {
        await walkTar(file, async (m) => void (m.type === 'file' ? await m.read() : undefined), { gzip: gz });
      } catch (err) {
        caught = err;
      }
      expect(caught, name).toBeInstanceOf(SegError);
      expect((caught as Error).message).toMatch(new RegExp(`${name}: cannot read the archive .*truncated or corrupt`));
    }
    const out = tempDir('seg-voc-cut-');
    const cut = bytesOf('VOCtrainval_tiny.tar').subarray(0, 20_000);
    fs.writeFileSync(path.join(out, 'VOCtrainval_tiny.tar'), cut);
    await expect(downloadVoc2012({ out, voc: { ...voc, md5: md5(cut) }, ...quick })).rejects.toThrow(/truncated or corrupt/);
    expect(fs.readdirSync(out)).toEqual(['VOCtrainval_tiny.tar']);
  });

  it('makes SegmentationClassAug again when a run stopped before recording it, but never touches a foreign one', async () => {
    const out = tempDir('seg-voc-dl-');
    const first = await downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, ...quick });
    const marker = path.join(first.root, '.seg-download.json');
    const record = JSON.parse(fs.readFileSync(marker, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(marker, JSON.stringify({ voc: record.voc })); // as if stopped before the SBD step was recorded
    const again = await downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, ...quick });
    expect(again.skipped).toEqual(['voc2012']);
    expect(again.trainaug).toBe(5);
    fs.writeFileSync(marker, JSON.stringify({ voc: record.voc }));
    fs.rmSync(path.join(first.root, 'SegmentationClassAug', '.seg-download'));
    await expect(downloadVoc2012({ out, sbd: true, voc, sbdArchive: sbd, ...quick })).rejects.toThrow(
      /SegmentationClassAug: exists and was not made by seg data download; move it away/,
    );
  });

  it('never writes into a VOC2012 folder it did not make', async () => {
    const out = tempDir('seg-voc-dl-');
    fs.mkdirSync(path.join(out, 'VOCdevkit', 'VOC2012'), { recursive: true });
    await expect(downloadVoc2012({ out, voc, ...quick })).rejects.toThrow(
      /VOC2012: exists and was not made by seg data download; use it as it is/,
    );
  });
});
