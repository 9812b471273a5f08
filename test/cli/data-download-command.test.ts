/** seg data download on the command line: the real archive names and MD5s, here met by a loopback mirror serving other bytes. */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoopbackServer, serveBytes, startLoopbackServer } from '../core/loopback-server.js';
import { removeTempDirs, tempDir } from '../datasets/fixtures.js';
import { runSeg } from './run-cli.js';

const tiny = fs.readFileSync(join(__dirname, '..', 'fixtures', 'voc', 'VOCtrainval_tiny.tar'));
let server: LoopbackServer;

beforeAll(async () => {
  server = await startLoopbackServer({ '/voc/VOCtrainval_11-May-2012.tar': serveBytes(tiny) });
});
afterAll(async () => {
  await server.close();
  removeTempDirs();
});

describe('seg data download', () => {
  it('checks the real MD5 of a mirrored archive and keeps nothing that fails it', async () => {
    const out = tempDir('seg-dl-cli-');
    const r = await runSeg(['data', 'download', 'voc2012', '--out', out, '--mirror', `${server.url}/voc/`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`downloading ${server.url}/voc/VOCtrainval_11-May-2012.tar to ${join(out, 'VOCtrainval_11-May-2012.tar')}`);
    expect(r.err).toMatch(
      /error: cannot download .*VOCtrainval_11-May-2012\.tar to .*: the file is not the one expected: its MD5 is [0-9a-f]{32}, expected 6cd6e144f989b92b3379bac3b3de84fd/,
    );
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('checks an archive already in a local mirror folder, and refuses unknown datasets', async () => {
    const mirror = tempDir('seg-dl-mirror-');
    fs.writeFileSync(join(mirror, 'VOCtrainval_11-May-2012.tar'), tiny);
    const out = tempDir('seg-dl-cli-');
    const r = await runSeg(['data', 'download', 'voc2012', '--out', out, '--mirror', mirror]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /VOCtrainval_11-May-2012\.tar: its MD5 is [0-9a-f]{32}, expected 6cd6e144f989b92b3379bac3b3de84fd; it is not VOCtrainval_11-May-2012\.tar/,
    );
    const other = await runSeg(['data', 'download', 'coco', '--out', out]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/got 'coco', expected voc2012/);
  });
});
