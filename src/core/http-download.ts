/**
 * HTTP(S) downloads that land whole and verified, or not at all:
 *
 * - bytes go to `<dest>.partial`; an interrupted download (a broken connection, a stalled
 *   stream, a body cut short) is resumed with an HTTP Range request, by the next attempt
 *   or by the next run; a server that ignores Range makes it start over;
 * - the SHA-256 (full, or the prefix torchvision's file names carry) and the MD5 are checked
 *   before the file gets its name (fsync, rename, directory sync); when the server publishes
 *   the full SHA-256 (the Hugging Face hub's X-Linked-Etag) that is checked too;
 * - a wrong hash, a 404 or an offline machine is a DownloadError naming the URL and the
 *   destination, and nothing is left under the final name (a wrong file's partial is removed);
 * - two processes fetching the same file (a job array on an empty cache) take turns on
 *   `<dest>.lock`; the second finds the file done.
 *
 * Built on Node's fetch (no dependency); redirects are followed by hand so the first hop's
 * headers (X-Linked-Etag) are seen, and an Authorization header never follows to another host.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { syncDirectory } from './durable-files.js';
import { SegError } from './errors.js';
import { PACKAGE_VERSION } from './version.js';
import { processRuns, readOwner } from './run-lock.js';

export interface DownloadOptions {
  url: string;
  /** The final path: it appears only once the whole file is verified. */
  dest: string;
  /** Hex SHA-256 of the file: all 64 digits, or a prefix (torchvision's `-<8 hex>.pth` names). */
  sha256?: string;
  /** Hex MD5 of the file. */
  md5?: string;
  /** Expected size in bytes. */
  size?: number;
  /** Extra request headers (e.g. Authorization for a gated repository). */
  headers?: Record<string, string>;
  /** Bytes received so far and the total when known; called often (throttle the display). */
  onProgress?: (done: number, total: number | undefined) => void;
  log?: (line: string) => void;
  /** Give up on a connection that delivers no byte for this long (default 60 s); the next attempt resumes. */
  stallTimeoutMs?: number;
  /** Further attempts after an interruption mid-transfer (default 3). */
  retries?: number;
  /** Pause before each further attempt (default 2 s). */
  retryDelayMs?: number;
}

export interface DownloadResult {
  file: string;
  url: string;
  bytes: number;
  sha256: string;
  md5: string;
  /** Bytes an earlier, interrupted download had already fetched. */
  resumedFrom: number;
  /** The full SHA-256 the server published (X-Linked-Etag), when it did. */
  publishedSha256?: string;
}

/** A download that failed: names the URL and the destination, and says what was kept. */
export class DownloadError extends SegError {
  readonly url: string;
  readonly dest: string;

  constructor(url: string, dest: string, problem: string, advice: string) {
    super(`cannot download ${url} to ${dest}: ${problem}; ${advice}`, url);
    this.name = 'DownloadError';
    this.url = url;
    this.dest = dest;
  }
}

const DEFAULT_STALL_MS = 60_000;
const DEFAULT_RETRIES = 3;
const DEFAULT_RETRY_DELAY_MS = 2_000;
const MAX_REDIRECTS = 10;

/** Network failures worth another attempt (the connection broke, not "no such host"). */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

interface Hashes {
  sha256: Hash;
  md5: Hash;
  bytes: number;
}

function newHashes(): Hashes {
  return { sha256: createHash('sha256'), md5: createHash('md5'), bytes: 0 };
}

/** SHA-256 and MD5 of a file, streamed (into `hashes`, to continue after it). */
async function hashFile(file: string, hashes: Hashes = newHashes()): Promise<Hashes> {
  for await (const chunk of createReadStream(file)) {
    const bytes = chunk as Buffer;
    hashes.sha256.update(bytes);
    hashes.md5.update(bytes);
    hashes.bytes += bytes.length;
  }
  return hashes;
}

/** The digests of a file on disk: `{ sha256, md5, bytes }` in hex. */
export async function fileDigests(file: string): Promise<{ sha256: string; md5: string; bytes: number }> {
  const h = await hashFile(file);
  return { sha256: h.sha256.digest('hex'), md5: h.md5.digest('hex'), bytes: h.bytes };
}

/** Why digests differ from what was expected, or undefined when they match. */
export function digestMismatch(
  got: { sha256: string; md5: string },
  want: { sha256?: string | undefined; md5?: string | undefined },
): string | undefined {
  const sha = want.sha256?.toLowerCase();
  if (sha !== undefined && !got.sha256.startsWith(sha)) {
    return `its SHA-256 is ${got.sha256}, expected ${sha.length < 64 ? `one starting with ${sha}` : sha}`;
  }
  const md5 = want.md5?.toLowerCase();
  if (md5 !== undefined && got.md5 !== md5) return `its MD5 is ${got.md5}, expected ${md5}`;
  return undefined;
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function networkProblem(err: unknown): string {
  const code = errorCode(err);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name cannot be resolved (is this machine offline?)';
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'the connection timed out';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'the connection broke';
    default:
      if (code?.startsWith('CERT_') || code?.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
        return `the server's TLS certificate was not accepted (${code}; behind a proxy that intercepts HTTPS, set NODE_EXTRA_CA_CERTS)`;
      }
      return `${err instanceof Error ? err.message : String(err)}${code !== undefined ? ` (${code})` : ''}`;
  }
}

function proxyNote(): string {
  const proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy ?? process.env.HTTP_PROXY ?? process.env.http_proxy;
  return proxy === undefined
    ? ''
    : ' (HTTPS_PROXY is set, but seg connects directly: fetch the file with curl or a browser and pass its path instead)';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Take `<dest>.lock`, waiting while another live process on this host holds it. */
async function acquireLock(file: string, log: (line: string) => void): Promise<() => void> {
  const me = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  let waiting = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      return () => {
        if (readOwner(file)?.pid === me.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') {
        throw new SegError(`${file}: cannot create the download's lock file (${err instanceof Error ? err.message : String(err)})`, file);
      }
    }
    const owner = readOwner(file);
    if (owner !== undefined && owner.host === me.host && !processRuns(owner.pid)) {
      rmSync(file, { force: true }); // left by a process that is gone
      continue;
    }
    if (owner !== undefined && owner.host !== me.host) {
      throw new SegError(
        `${file}: pid ${owner.pid} on ${owner.host} is downloading the same file; wait for it, or delete ${file} if that process is gone`,
        file,
      );
    }
    if (!waiting) {
      log(`waiting for ${owner === undefined ? 'another process' : `pid ${owner.pid}`}, which is downloading the same file (${file})`);
      waiting = true;
    }
    await sleep(250);
  }
}

interface Attempt {
  status: 'complete' | 'retry';
  reason?: string;
}

interface Transfer {
  options: DownloadOptions;
  partial: string;
  hashes: Hashes;
  total: number | undefined;
  publishedSha256?: string;
  publishedSize?: number;
  resumedFrom: number;
}

function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value ?? '');
  if (m === null) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

function linkedSha256(headers: Headers): string | undefined {
  const etag = (headers.get('x-linked-etag') ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
}

/** Start over: empty the partial file and the running hashes. */
function restart(t: Transfer): void {
  closeSync(openSync(t.partial, 'w'));
  t.hashes = newHashes();
  t.resumedFrom = 0;
}

async function request(t: Transfer, signal: AbortSignal): Promise<Response> {
  const { url: first, dest } = t.options;
  const base: Record<string, string> = {
    'user-agent': `seg/${PACKAGE_VERSION}`,
    'accept-encoding': 'identity',
    ...(t.options.headers ?? {}),
  };
  let url = first;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { ...base, ...(t.hashes.bytes > 0 ? { range: `bytes=${t.hashes.bytes}-` } : {}) };
    if (new URL(url).host !== new URL(first).host) {
      for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    }
    const res = await fetch(url, { headers, redirect: 'manual', signal });
    t.publishedSha256 ??= linkedSha256(res.headers);
    const size = Number(res.headers.get('x-linked-size') ?? Number.NaN);
    if (Number.isSafeInteger(size)) t.publishedSize ??= size;
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    return res;
  }
  throw new DownloadError(first, dest, `more than ${MAX_REDIRECTS} redirects`, 'check the URL or the mirror');
}

async function attempt(t: Transfer): Promise<Attempt> {
  const { url, dest } = t.options;
  const stallMs = t.options.stallTimeoutMs ?? DEFAULT_STALL_MS;
  const controller = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, stallMs);
  };
  arm();
  try {
    const res = await request(t, controller.signal);
    const have = t.hashes.bytes;
    if (res.status === 416 && have > 0) {
      await res.body?.cancel();
      const total = Number((res.headers.get('content-range') ?? '').replace(/^bytes \*\//, ''));
      if (total === have) return { status: 'complete' };
      restart(t);
      return { status: 'retry', reason: 'the server refused to resume' };
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      rmSync(t.partial, { force: true });
      throw new DownloadError(url, dest, `not found (HTTP ${res.status})`, 'check the name, or the mirror URL given; nothing was written');
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new DownloadError(
        url,
        dest,
        `access denied (HTTP ${res.status})`,
        'the file may need a login (for the Hugging Face hub, set HF_TOKEN)',
      );
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      await res.body?.cancel();
      return { status: 'retry', reason: `the server answered HTTP ${res.status}` };
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new DownloadError(url, dest, `the server answered HTTP ${res.status}`, 'nothing was written');
    }
    let total: number | undefined;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (range === undefined || range.start !== have) {
        await res.body?.cancel();
        restart(t);
        return { status: 'retry', reason: 'the server resumed at another byte' };
      }
      total = range.total;
    } else {
      if (have > 0) restart(t); // the server ignored Range: start over
      const length = res.headers.get('content-length');
      total = length === null ? undefined : Number(length);
    }
    total ??= t.publishedSize;
    const expected = t.options.size;
    if (expected !== undefined && total !== undefined && total !== expected) {
      await res.body?.cancel();
      rmSync(t.partial, { force: true });
      throw new DownloadError(
        url,
        dest,
        `the server offers ${total} bytes, expected ${expected}`,
        'it is another file (a broken mirror?); nothing was written',
      );
    }
    t.total = total ?? expected;
    if (res.body === null) return { status: 'retry', reason: 'an empty response' };
    const fd = openSync(t.partial, 'a');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        let written = 0;
        while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
        t.hashes.sha256.update(chunk);
        t.hashes.md5.update(chunk);
        t.hashes.bytes += chunk.length;
        t.options.onProgress?.(t.hashes.bytes, t.total);
        arm();
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (t.total !== undefined && t.hashes.bytes > t.total) {
      rmSync(t.partial, { force: true });
      throw new DownloadError(
        url,
        dest,
        `the server sent ${t.hashes.bytes} bytes, more than the ${t.total} it announced`,
        'nothing was kept',
      );
    }
    if (t.total !== undefined && t.hashes.bytes < t.total) {
      return { status: 'retry', reason: `the connection closed after ${t.hashes.bytes} of ${t.total} bytes` };
    }
    return { status: 'complete' };
  } catch (err) {
    if (err instanceof SegError) throw err;
    if (stalled) return { status: 'retry', reason: `no data arrived for ${stallMs / 1000} s` };
    const code = errorCode(err);
    if (code !== undefined && TRANSIENT_CODES.has(code)) return { status: 'retry', reason: networkProblem(err) };
    if (t.hashes.bytes > 0 && err instanceof TypeError) return { status: 'retry', reason: networkProblem(err) };
    throw new DownloadError(url, dest, networkProblem(err) + proxyNote(), advice(t));
  } finally {
    clearTimeout(timer);
  }
}

function advice(t: Transfer): string {
  return t.hashes.bytes > 0
    ? `the ${t.hashes.bytes} bytes fetched are kept in ${t.partial}; run the command again to resume`
    : 'nothing was written; check the network (or pass a local file instead)';
}

/**
 * Download `options.url` to `options.dest` (see the module comment). The destination must
 * not exist yet; its folder is created. Resolves once the verified file has its name.
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { url, dest } = options;
  const log = options.log ?? (() => {});
  mkdirSync(dirname(dest), { recursive: true });
  const release = await acquireLock(`${dest}.lock`, log);
  try {
    if (existsSync(dest)) {
      // another process finished it while this one waited for the lock
      const got = await fileDigests(dest);
      const wrong = digestMismatch(got, options);
      if (wrong !== undefined) throw new DownloadError(url, dest, `${dest} exists but ${wrong}`, 'delete it and run the command again');
      return { file: dest, url, bytes: got.bytes, sha256: got.sha256, md5: got.md5, resumedFrom: 0 };
    }
    const partial = `${dest}.partial`;
    const hashes = existsSync(partial) ? await hashFile(partial) : newHashes();
    if (!existsSync(partial)) closeSync(openSync(partial, 'w'));
    if (hashes.bytes > 0) log(`resuming ${url} at byte ${hashes.bytes} (${partial})`);
    const t: Transfer = { options, partial, hashes, total: undefined, resumedFrom: hashes.bytes };
    const retries = options.retries ?? DEFAULT_RETRIES;
    try {
      let last: Attempt = { status: 'retry' };
      for (let i = 0; i <= retries; i++) {
        if (i > 0) {
          log(`download interrupted (${last.reason}); resuming at byte ${t.hashes.bytes}, attempt ${i + 1} of ${retries + 1}`);
          await sleep(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
        }
        last = await attempt(t);
        if (last.status === 'complete') break;
      }
      if (last.status !== 'complete') {
        throw new DownloadError(url, dest, `${last.reason ?? 'interrupted'} (after ${retries + 1} attempts)`, advice(t));
      }
    } catch (err) {
      // an empty partial file is no progress worth keeping
      if (existsSync(partial) && statSync(partial).size === 0) rmSync(partial, { force: true });
      throw err;
    }
    const got = { sha256: t.hashes.sha256.digest('hex'), md5: t.hashes.md5.digest('hex') };
    const wrong =
      digestMismatch(got, options) ?? (t.publishedSha256 !== undefined ? digestMismatch(got, { sha256: t.publishedSha256 }) : undefined);
    if (wrong !== undefined) {
      rmSync(partial, { force: true });
      throw new DownloadError(
        url,
        dest,
        `the file is not the one expected: ${wrong}`,
        'it was deleted and nothing was written (a broken mirror, or a changed file upstream)',
      );
    }
    renameSync(partial, dest);
    syncDirectory(dirname(dest));
    return {
      file: dest,
      url,
      bytes: statSync(dest).size,
      sha256: got.sha256,
      md5: got.md5,
      resumedFrom: t.resumedFrom,
      ...(t.publishedSha256 !== undefined ? { publishedSha256: t.publishedSha256 } : {}),
    };
  } finally {
    release();
  }
}
