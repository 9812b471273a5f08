/**
 * A tar archive (plain or gzip) read as a stream with `tar-stream`, one member at a time, so
 * a 2 GB archive never sits in memory. Member names are checked before a visitor sees them:
 * an absolute name, a `..` step, a link or a device file refuses the whole archive with a
 * SegError naming the archive and the member (nothing is ever written outside the target).
 */
import { createReadStream, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { SegError } from '../core/errors.js';

export interface TarMember {
  /** The member's path inside the archive, normalised (no `./`, no trailing `/`). */
  name: string;
  type: 'file' | 'directory';
  size: number;
  /** The member's bytes (read it only once; unread members are skipped). */
  read(): Promise<Buffer>;
  /** Stream the member into `file` (its folder is created; written to a temporary name first). */
  writeTo(file: string): Promise<void>;
}

export interface TarWalkOptions {
  gzip?: boolean;
  /** Bytes of the archive file read so far, and its size. */
  onProgress?: (done: number, total: number) => void;
}

/** The member name, normalised, or a SegError when it would leave the folder it is extracted into. */
export function safeMemberName(archive: string, raw: string): string {
  const name = raw.replace(/\\/g, '/');
  const normal = posix
    .normalize(name)
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || normal === '..' || normal.startsWith('../') || name.split('/').includes('..')) {
    throw new SegError(
      `${archive}: refused: member '${raw}' would be written outside the target folder (an absolute path or a '..' step); the archive is not safe to extract`,
      archive,
    );
  }
  return normal;
}

async function drain(stream: Readable): Promise<void> {
  stream.resume();
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}

/** Visit every member of `archive` in order; the visitor may read a member or leave it. */
export async function walkTar(archive: string, visit: (member: TarMember) => Promise<void>, options: TarWalkOptions = {}): Promise<void> {
  const total = statSync(archive).size;
  const source = createReadStream(archive);
  let done = 0;
  source.on('data', (chunk) => {
    done += (chunk as Buffer).length;
    options.onProgress?.(done, total);
  });
  const parser = extract();
  const feed = pipeline(options.gzip === true ? [source, createGunzip(), parser] : [source, parser]);
  // A member cut short does not always end its own stream: reading it races the archive's failure.
  const failed = new Promise<never>((_, reject) => {
    feed.catch(reject);
    parser.once('error', reject);
  });
  failed.catch(() => {}); // reported by whoever awaits it
  const guarded = <T>(work: Promise<T>): Promise<T> => Promise.race([work, failed]);
  try {
    for await (const entry of parser) {
      const { header } = entry;
      const name = safeMemberName(archive, header.name);
      if (header.type === 'symlink' || header.type === 'link') {
        throw new SegError(
          `${archive}: refused: member '${header.name}' is a link to '${header.linkname ?? ''}'; seg does not extract links`,
          archive,
        );
      }
      if (header.type !== 'file' && header.type !== 'directory' && header.type !== 'contiguous-file') {
        throw new SegError(
          `${archive}: refused: member '${header.name}' is a ${header.type}; seg extracts only files and folders`,
          archive,
        );
      }
      let used = false;
      const member: TarMember = {
        name,
        type: header.type === 'directory' ? 'directory' : 'file',
        size: header.size ?? 0,
        read: async () => {
          used = true;
          const chunks: Buffer[] = [];
          await guarded(
            (async () => {
              for await (const chunk of entry) chunks.push(chunk as Buffer);
            })(),
          );
          return Buffer.concat(chunks);
        },
        writeTo: async (file) => {
          used = true;
          await mkdir(dirname(file), { recursive: true });
          const tmp = `${file}.partial`;
          try {
            await guarded(pipeline(entry, createWriteStream(tmp)));
            await rename(tmp, file);
          } catch (err) {
            await rm(tmp, { force: true });
            throw err;
          }
        },
      };
      await visit(member);
      if (!used) await guarded(drain(entry as unknown as Readable));
    }
    await feed;
  } catch (err) {
    source.destroy();
    if (err instanceof SegError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new SegError(
      `${archive}: cannot read the archive (${reason}); it is truncated or corrupt: delete it and download it again`,
      archive,
    );
  }
}

/** Where a member goes under `root` (the name was checked by walkTar). */
export function memberPath(root: string, member: TarMember): string {
  return join(root, ...member.name.split('/'));
}
