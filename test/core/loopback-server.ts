/**
 * A loopback HTTP server for download tests (127.0.0.1, a free port, started and stopped by
 * the test): serves fixture bytes with Range support, and misbehaves on purpose (404, bodies
 * cut short, streams that stall, servers that ignore Range, redirects with hub headers).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every request: path and Range header. */
  requests: { path: string; range: string | undefined }[];
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startLoopbackServer(routes: Record<string, Handler> = {}): Promise<LoopbackServer> {
  const table = new Map(Object.entries(routes));
  const hits = new Map<string, number>();
  const requests: LoopbackServer['requests'] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    requests.push({ path, range: req.headers.range });
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    const handler = table.get(path);
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    handler(req, res, hit);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route: (path, handler) => table.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve `bytes` (200, or 206 for `Range: bytes=N-`), with extra headers. */
export function serveBytes(bytes: Uint8Array, options: { headers?: Record<string, string>; ignoreRange?: boolean } = {}): Handler {
  return (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m !== null && options.ignoreRange !== true) {
      const start = Number(m[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}`, ...options.headers }).end();
        return;
      }
      res.writeHead(206, {
        'content-length': String(bytes.length - start),
        'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        ...options.headers,
      });
      res.end(Buffer.from(bytes.subarray(start)));
      return;
    }
    res.writeHead(200, { 'content-length': String(bytes.length), 'accept-ranges': 'bytes', ...options.headers });
    res.end(Buffer.from(bytes));
  };
}

/** The first `times` requests announce the whole length but send only `keep` bytes and close; later ones serve normally. */
export function cutShort(bytes: Uint8Array, keep: number, times = 1): Handler {
  const normal = serveBytes(bytes);
  return (req, res, hit) => {
    if (hit > times) {
      normal(req, res, hit);
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m === null ? 0 : Number(m[1]);
    const headers: Record<string, string> = { 'content-length': String(bytes.length - start) };
    if (m !== null) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(m === null ? 200 : 206, headers);
    res.write(Buffer.from(bytes.subarray(start, Math.min(bytes.length, start + keep))), () => res.socket?.destroy());
  };
}

/** Send the headers and `keep` bytes, then nothing more (the connection stays open until the server closes). */
export function stallAfter(bytes: Uint8Array, keep: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length) });
    res.write(Buffer.from(bytes.subarray(0, keep)));
  };
}

/** A 302 to `location`, with extra headers (the hub's X-Linked-Etag / X-Linked-Size). */
export function redirect(location: string, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(302, { location, ...headers }).end();
  };
}

export function status(code: number): Handler {
  return (_req, res) => {
    res.writeHead(code).end();
  };
}
