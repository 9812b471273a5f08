/** The downloader against a loopback server that serves fixtures and misbehaves; nothing touches the internet. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError, downloadFile, fileDigests } from '../../src/core/http-download.js';
import { cutShort, type LoopbackServer, redirect, serveBytes, stallAfter, startLoopbackServer, status } from './loopback-server.js';

const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919 + (i >> 8)) & 0xff);
const sha256 = createHash('sha256').update(payload).digest('hex');
const md5 = createHash('md5').update(payload).digest('hex');
const quick = { retryDelayMs: 0, stallTimeoutMs: 30_000 };

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('downloadFile', () => {
  let server: LoopbackServer;
  let tmp: string;
  let n = 0;
  const dest = (): string => path.join(tmp, `case-${++n}`, 'file.bin');

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-download-'));
    server = await startLoopbackServer({
      '/file': serveBytes(payload),
      '/cut-once': cutShort(payload, 100_000, 1),
      '/cut-always': cutShort(payload, 50_000, 1000),
      '/wrong': serveBytes(payload.map((v) => v ^ 1)),
      '/stall': stallAfter(payload, 1000),
      '/no-range': serveBytes(payload, { ignoreRange: true }),
      '/hub': redirect('/file', { 'x-linked-etag': `"${sha256}"`, 'x-linked-size': String(payload.length) }),
      '/hub-wrong': redirect('/file', { 'x-linked-etag': `"${'0'.repeat(64)}"` }),
      '/gone': status(410),
      '/busy': status(503),
    });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('downloads, checks SHA-256 (full or prefix) and MD5, renames into place and reports progress', async () => {
    for (const expected of [{ sha256 }, { sha256: sha256.slice(0, 8), md5 }]) {
      const file = dest();
      const seen: number[] = [];
      const result = await downloadFile({
        url: `${server.url}/file`,
        dest: file,
        ...expected,
        onProgress: (done) => seen.push(done),
        ...quick,
      });
      expect(result).toMatchObject({ file, bytes: payload.length, sha256, md5, resumedFrom: 0 });
      expect(Buffer.compare(fs.readFileSync(file), Buffer.from(payload))).toBe(0);
      expect(fs.existsSync(`${file}.partial`) || fs.existsSync(`${file}.lock`)).toBe(false);
      expect(seen.at(-1)).toBe(payload.length);
    }
  });

  it('resumes a body cut short with a Range request, in the same run', async () => {
    const file = dest();
    const logs: string[] = [];
    const result = await downloadFile({ url: `${server.url}/cut-once`, dest: file, sha256, log: (l) => logs.push(l), ...quick });
    expect(result.bytes).toBe(payload.length);
    expect(server.requests.filter((r) => r.path === '/cut-once').map((r) => r.range)).toEqual([undefined, 'bytes=100000-']);
    expect(logs.join('\n')).toMatch(/download interrupted \(.*\); resuming at byte 100000/);
    expect(await fileDigests(file)).toMatchObject({ sha256 });
  });

  it('keeps the partial file when every attempt is cut, and a later run resumes from it', async () => {
    const file = dest();
    const err = await caught(downloadFile({ url: `${server.url}/cut-always`, dest: file, sha256, retries: 1, ...quick }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(`${server.url}/cut-always`);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/after 2 attempts/);
    expect(err.message).toMatch(/bytes fetched are kept in .*file\.bin\.partial; run the command again to resume/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.statSync(`${file}.partial`).size).toBe(100_000);
    // the next run (here: the server behaves) asks only for the rest
    const result = await downloadFile({ url: `${server.url}/file`, dest: file, sha256, ...quick });
    expect(result.resumedFrom).toBe(100_000);
    expect(server.requests.at(-1)).toEqual({ path: '/file', range: 'bytes=100000-' });
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(payload))).toBe(0);
  });

  it('starts over when the server ignores Range', async () => {
    const file = dest();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.partial`, Buffer.from(payload.subarray(0, 5000)));
    const result = await downloadFile({ url: `${server.url}/no-range`, dest: file, sha256, ...quick });
    expect(result.bytes).toBe(payload.length);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(payload))).toBe(0);
  });

  it('refuses a wrong file, deletes it and writes nothing final', async () => {
    const file = dest();
    const err = await caught(downloadFile({ url: `${server.url}/wrong`, dest: file, sha256: sha256.slice(0, 8), ...quick }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(
      new RegExp(
        `cannot download ${server.url}/wrong to .*file\\.bin: the file is not the one expected: its SHA-256 is [0-9a-f]{64}, expected one starting with ${sha256.slice(0, 8)}`,
      ),
    );
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    const md5Err = await caught(downloadFile({ url: `${server.url}/wrong`, dest: file, md5, ...quick }));
    expect(md5Err.message).toMatch(new RegExp(`its MD5 is [0-9a-f]{32}, expected ${md5}`));
  });

  it("checks the hub's published SHA-256 (X-Linked-Etag) across a redirect", async () => {
    const file = dest();
    const result = await downloadFile({ url: `${server.url}/hub`, dest: file, ...quick });
    expect(result.publishedSha256).toBe(sha256);
    const err = await caught(downloadFile({ url: `${server.url}/hub-wrong`, dest: dest(), ...quick }));
    expect(err.message).toMatch(/its SHA-256 is [0-9a-f]{64}, expected 0{64}/);
  });

  it('gives up on a stalled stream, keeping what arrived', async () => {
    const file = dest();
    const err = await caught(downloadFile({ url: `${server.url}/stall`, dest: file, retries: 0, retryDelayMs: 0, stallTimeoutMs: 300 }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/no data arrived for 0\.3 s/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.statSync(`${file}.partial`).size).toBe(1000);
  });

  it('says what went wrong on 404/410, server errors and an unreachable host, naming URL and destination', async () => {
    const file = dest();
    const missing = await caught(downloadFile({ url: `${server.url}/nothing-here`, dest: file, ...quick }));
    expect(missing.message).toBe(
      `cannot download ${server.url}/nothing-here to ${file}: not found (HTTP 404); check the name, or the mirror URL given; nothing was written`,
    );
    expect((await caught(downloadFile({ url: `${server.url}/gone`, dest: file, ...quick }))).message).toMatch(/not found \(HTTP 410\)/);
    const busy = await caught(downloadFile({ url: `${server.url}/busy`, dest: file, retries: 1, ...quick }));
    expect(busy.message).toMatch(/the server answered HTTP 503 \(after 2 attempts\); nothing was written/);
    // a port nobody listens on: what an offline mirror looks like
    const closed = await startLoopbackServer();
    const url = `${closed.url}/file`;
    await closed.close();
    const offline = await caught(downloadFile({ url, dest: file, ...quick }));
    expect(offline).toBeInstanceOf(DownloadError);
    expect(offline.message).toMatch(new RegExp(`cannot download ${url} to .*: the connection was refused.*; nothing was written`));
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  it('lets a second process wait for the first one downloading the same file', async () => {
    const file = dest();
    const [a, b] = await Promise.all([
      downloadFile({ url: `${server.url}/file`, dest: file, sha256, ...quick }),
      downloadFile({ url: `${server.url}/file`, dest: file, sha256, ...quick }),
    ]);
    expect(a.sha256).toBe(sha256);
    expect(b.sha256).toBe(sha256);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['file.bin']);
  });
});
