/**
 * The local-directory backend: one regular file per key, all in one directory.
 *
 * Keys are used as file names as they are, so only flat names are accepted: non-empty, at most
 * 255 bytes of UTF-8, no '/' and no NUL, and not starting with '.' (that also rules out '.' and
 * '..', and leaves names starting with '.' to the store's temp files). Anything else is refused
 * with PFS_ERR_OBJECT_STORE. Log-segment keys (16 hex digits) always qualify.
 *
 * put writes a temp file in the same directory (one writev of the body's buffers), fsyncs it,
 * renames it over the key and fsyncs the directory: when put resolves the object is durable,
 * and a reader sees either the whole old object, the whole new one, or none. delete also fsyncs
 * the directory, so a deleted object does not come back after a crash. Temp files left by a crash are not listed and not removed.
 * A full filesystem or quota (ENOSPC, EDQUOT) is PFS_ERR_OBJECT_STORE_FULL, and put removes
 * its temp file first, so a failed put leaves no bytes behind.
 *
 * Page cache: an object is written once and read back rarely (the agent's read cache and the
 * kernel's FUSE page cache hold what it serves), so put drops the object's pages once synced and
 * get drops the range it read (posix_fadvise DONTNEED, src/common/native). The next object then
 * reuses those pages instead of growing the page cache: on a VM that returns free memory to its
 * host, each newly touched page costs a host fault (measured: 1 GiB of 10 MiB objects written
 * and synced in 3.4 s keeping the pages, 0.64 s dropping them). Objects and ranges under 256 KiB
 * keep their pages (few pages to gain, and each drop is one more pool job; bench/fs small-file
 * creates measured the same within noise either way). Without the addon nothing is dropped.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PfsError } from '../errors/index.js';
import { dropPageCache } from '../native/page-cache.js';
import type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';

const TEMP_PREFIX = '.pfs-tmp-';
/** Buffers per writev (Linux's IOV_MAX is 1024). */
const IOV_MAX = 1024;
const MAX_KEY_BYTES = 255;
/** Objects (put) and ranges (get) smaller than this keep their pages: too few to matter, and the drop is one more pool job. */
const DROP_MIN_BYTES = 256 * 1024;

export function openLocalStore(dir: string, opts: { create?: boolean } = {}): ObjectStore {
  if (opts.create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
    // Objects hold file data of every user: nobody but the owner may list or read them, also
    // in a directory made before pfs kept it private. A directory we do not own stays as it is.
    if (isDir) {
      try {
        chmodSync(dir, 0o700);
      } catch { /* not ours */ }
    }
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', `object store directory ${dir} does not exist or cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!isDir) throw new PfsError('PFS_ERR_CONFIG', `object store path ${dir} is not a directory`);

  let closed = false;
  const inflight = new Set<Promise<unknown>>();

  function begin(op: string, key: string, opts?: CallOpts): string {
    if (closed) throw new PfsError('PFS_ERR_OBJECT_STORE', `local store ${dir}: ${op} after close`);
    opts?.signal?.throwIfAborted();
    checkKey(key);
    return join(dir, key);
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  }

  async function syncDir(): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function get(key: string, range?: ByteRange, opts?: CallOpts): Promise<Buffer> {
    const path = begin('get', key, opts);
    if (range) checkRange(range);
    return track((async () => {
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (err) {
        throw storeError(err, 'get', key);
      }
      try {
        const size = (await fh.stat()).size;
        const start = range ? Math.min(range.offset, size) : 0;
        const end = range ? Math.min(size, range.offset + range.length) : size;
        const buf = Buffer.allocUnsafe(end - start);
        let done = 0;
        while (done < buf.length) {
          const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        if (done >= DROP_MIN_BYTES) await dropPageCache(fh.fd, start, done);
        return done === buf.length ? buf : buf.subarray(0, done);
      } catch (err) {
        throw storeError(err, 'get', key);
      } finally {
        await fh.close();
      }
    })());
  }

  async function put(key: string, body: Buffer | readonly Buffer[], opts?: CallOpts): Promise<void> {
    const path = begin('put', key, opts);
    const parts = Buffer.isBuffer(body) ? [body] : body;
    if (!Array.isArray(parts) || !parts.every((b) => Buffer.isBuffer(b))) throw new PfsError('PFS_ERR_OBJECT_STORE', `put ${key}: body must be a Buffer or a list of Buffers`);
    return track((async () => {
      const tmp = join(dir, TEMP_PREFIX + randomBytes(8).toString('hex'));
      try {
        const fh = await open(tmp, 'wx', 0o644);
        try {
          await writeAll(fh, parts);
          await fh.sync();
          if (parts.reduce((n, p) => n + p.length, 0) >= DROP_MIN_BYTES) await dropPageCache(fh.fd);
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        await syncDir();
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw storeError(err, 'put', key);
      }
    })());
  }

  async function head(key: string, opts?: CallOpts): Promise<ObjectInfo> {
    const path = begin('head', key, opts);
    return track((async () => {
      try {
        const st = await stat(path);
        return { key, sizeBytes: st.size, mtimeMs: st.mtimeMs };
      } catch (err) {
        throw storeError(err, 'head', key);
      }
    })());
  }

  async function del(key: string, opts?: CallOpts): Promise<void> {
    const path = begin('delete', key, opts);
    return track((async () => {
      try {
        await unlink(path);
        await syncDir();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw storeError(err, 'delete', key);
      }
    })());
  }

  async function* list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo> {
    if (closed) throw new PfsError('PFS_ERR_OBJECT_STORE', `local store ${dir}: list after close`);
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isFile() && !d.name.startsWith('.') && d.name.startsWith(prefix))
        .map((d) => d.name)
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    } catch (err) {
      throw storeError(err, 'list', prefix);
    }
    for (const name of names) {
      opts?.signal?.throwIfAborted();
      let st;
      try {
        st = await stat(join(dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
        throw storeError(err, 'list', prefix);
      }
      yield { key: name, sizeBytes: st.size, mtimeMs: st.mtimeMs };
    }
  }

  return {
    get, put, head, delete: del, list,
    async close() {
      closed = true;
      await Promise.allSettled([...inflight]);
    },
  };
}

/** Writes the parts in order from the file's start: one writev (one thread-pool job) per IOV_MAX parts, short writes continued. */
async function writeAll(fh: FileHandle, parts: readonly Buffer[]): Promise<void> {
  let rest = parts.filter((p) => p.length > 0);
  let position = 0;
  while (rest.length > 0) {
    const batch = rest.slice(0, IOV_MAX);
    let n = (await fh.writev(batch, position)).bytesWritten;
    if (n === 0) throw new Error('writev wrote nothing');
    position += n;
    // Drop what was written; a part written in part continues from where it stopped.
    let i = 0;
    while (i < batch.length && n >= batch[i]!.length) n -= batch[i++]!.length;
    rest = i < batch.length ? [batch[i]!.subarray(n), ...batch.slice(i + 1), ...rest.slice(batch.length)] : rest.slice(batch.length);
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '' || key.startsWith('.') || key.includes('/') || key.includes('\0') || Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new PfsError('PFS_ERR_OBJECT_STORE', `invalid key ${JSON.stringify(key)}: the local store takes flat names (no '/', no NUL, no leading '.', at most ${MAX_KEY_BYTES} bytes)`);
  }
}

function checkRange(r: ByteRange): void {
  if (!Number.isSafeInteger(r.offset) || r.offset < 0 || !Number.isSafeInteger(r.length) || r.length < 0) {
    throw new PfsError('PFS_ERR_OBJECT_STORE', `invalid range ${JSON.stringify(r)}`);
  }
}

function storeError(err: unknown, op: string, key: string): PfsError {
  if (err instanceof PfsError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && op !== 'list' && op !== 'put') return new PfsError('PFS_ERR_OBJECT_MISSING', `object ${key} does not exist`, { cause: err });
  // A full filesystem or an exhausted quota: asking again does not help (not retried).
  if (code === 'ENOSPC' || code === 'EDQUOT') return new PfsError('PFS_ERR_OBJECT_STORE_FULL', `${op} ${key}: ${(err as Error).message}`, { cause: err });
  return new PfsError('PFS_ERR_OBJECT_STORE', `${op} ${key}: ${(err as Error).message}`, { cause: err });
}
