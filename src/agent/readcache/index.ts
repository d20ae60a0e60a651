/**
 * The read cache: verified bytes of log-segment objects, in lines of lineSizeBytes.
 *
 * Parts: index.ts (the LRU, single flight, prefetch), verify.ts (CRC32 of each block of a line).
 *
 * - One global LRU of at most lineCount lines, keyed by (objectId, lineIndex). Log segments are
 *   written once and never change, so a line is never invalidated, only evicted.
 * - A miss fetches the whole line with one ranged GET [line*L, line*L+L), clipped at the
 *   object's recorded size, and checks every checksum block of it against obj.crc32 before it
 *   is cached or returned. A mismatch (or a short object) rejects with PFS_ERR_CHECKSUM and
 *   nothing is cached; a missing object rejects with the store's PFS_ERR_OBJECT_MISSING.
 * - Single flight: concurrent misses on one line (reads and prefetches) share one GET. A failed
 *   fetch rejects every waiter; it is forgotten at once, so the next read tries again.
 * - Capacity counts inserted lines only: a line in flight takes memory but no slot until it is
 *   inserted, and inserting line lineCount+1 evicts the least recently used one.
 * - prefetch() starts GETs for missing lines and never rejects; at most prefetchConcurrency
 *   prefetch GETs run at once (more are dropped, not queued: read-ahead that cannot start now
 *   is stale by the time it could). Failures are counted and logged at debug level.
 * - read() returns a subarray of a cached line when the range lies in one line, else a new
 *   Buffer. Callers must not modify it.
 * - hits count lines found cached; misses count lines not cached when read() wanted them
 *   (joining a fetch already in flight is a miss too).
 */
import { PfsError } from '../../common/errors/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { ObjectChecksums } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import { checkLineGeometry, verifyLine } from './verify.js';

export interface ReadCacheOptions {
  store: ObjectStore;
  lineSizeBytes: number;
  lineCount: number;
  log: Logger;
  /** Prefetch GETs in flight at once over the whole cache (default 8). */
  prefetchConcurrency?: number;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  bytesFetched: number;
  lines: number;
  prefetches: number;
  prefetchesDropped: number;
  prefetchErrors: number;
  checksumErrors: number;
}

export interface ReadCache {
  /**
   * Verified bytes [offset, offset+length) of the object (clipped at its size). Each line
   * fetched from the store is checked against obj.crc32 (whole blocks; lineSizeBytes is a
   * multiple of obj.blockSizeBytes, else PFS_ERR_CONFIG); a mismatch rejects with
   * PFS_ERR_CHECKSUM and is not cached. Concurrent misses on one line make one GET.
   */
  read(obj: ObjectChecksums, offset: number, length: number): Promise<Buffer>;
  /** Starts fetching the lines covering the range unless cached or in flight; never rejects. */
  prefetch(obj: ObjectChecksums, offset: number, length: number): void;
  stats(): ReadCacheStats;
  /** Waits for fetches in flight, then drops every line. Later reads reject. */
  close(): Promise<void>;
}

const DEFAULT_PREFETCH_CONCURRENCY = 8;

export function createReadCache(opts: ReadCacheOptions): ReadCache {
  const { store, lineSizeBytes: lineSize, lineCount, log } = opts;
  const prefetchLimit = opts.prefetchConcurrency ?? DEFAULT_PREFETCH_CONCURRENCY;
  for (const [name, v] of [['lineSizeBytes', lineSize], ['lineCount', lineCount], ['prefetchConcurrency', prefetchLimit]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new PfsError('PFS_ERR_CONFIG', `read cache: ${name} ${v} is not a positive integer`);
  }

  /** Cached lines; Map order is recency order (first = least recently used). */
  const lines = new Map<string, Buffer>();
  const inflight = new Map<string, Promise<Buffer>>();
  const s: ReadCacheStats = { hits: 0, misses: 0, bytesFetched: 0, lines: 0, prefetches: 0, prefetchesDropped: 0, prefetchErrors: 0, checksumErrors: 0 };
  let prefetching = 0;
  let closed = false;

  const keyOf = (obj: ObjectChecksums, line: number) => `${obj.objectId}:${line}`;

  function insert(key: string, data: Buffer): void {
    lines.delete(key);
    lines.set(key, data);
    while (lines.size > lineCount) lines.delete(lines.keys().next().value!);
  }

  /** The line's bytes, from a fetch in flight or a new one (which caches it once verified). */
  function fetchLine(obj: ObjectChecksums, line: number, key: string): Promise<Buffer> {
    const running = inflight.get(key);
    if (running) return running;
    const start = line * lineSize;
    const length = Math.min(lineSize, obj.sizeBytes - start);
    const p = (async () => {
      const data = await store.get(obj.key, { offset: start, length });
      s.bytesFetched += data.length;
      try {
        verifyLine(obj, start, length, data);
      } catch (err) {
        s.checksumErrors++;
        log.error({ objectId: obj.objectId, key: obj.key, offset: start, length, code: 'PFS_ERR_CHECKSUM' }, (err as Error).message);
        throw err;
      }
      if (!closed) insert(key, data);
      return data;
    })();
    inflight.set(key, p);
    p.then(() => inflight.delete(key), () => inflight.delete(key));
    return p;
  }

  /** Line indexes covering [offset, offset+length) clipped at the object's end; empty if none. */
  function span(obj: ObjectChecksums, offset: number, length: number): { first: number; last: number; end: number } | undefined {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new PfsError('PFS_ERR_INTERNAL', `read cache: bad range offset ${offset} length ${length} of object ${obj.key}`);
    }
    checkLineGeometry(obj, lineSize);
    const end = Math.min(offset + length, obj.sizeBytes);
    if (offset >= end) return undefined;
    return { first: Math.floor(offset / lineSize), last: Math.floor((end - 1) / lineSize), end };
  }

  async function read(obj: ObjectChecksums, offset: number, length: number): Promise<Buffer> {
    if (closed) throw new PfsError('PFS_ERR_INTERNAL', 'read cache: read after close');
    const r = span(obj, offset, length);
    if (!r) return Buffer.alloc(0);
    const parts: Promise<Buffer>[] = [];
    for (let line = r.first; line <= r.last; line++) {
      const key = keyOf(obj, line);
      const hit = lines.get(key);
      if (hit) {
        s.hits++;
        insert(key, hit);
        parts.push(Promise.resolve(hit));
      } else {
        s.misses++;
        parts.push(fetchLine(obj, line, key));
      }
    }
    const got = await Promise.all(parts);
    const slices = got.map((data, i) => {
      const lineStart = (r.first + i) * lineSize;
      return data.subarray(Math.max(offset, lineStart) - lineStart, Math.min(r.end, lineStart + lineSize) - lineStart);
    });
    return slices.length === 1 ? slices[0]! : Buffer.concat(slices, r.end - offset);
  }

  function prefetch(obj: ObjectChecksums, offset: number, length: number): void {
    if (closed) return;
    let r;
    try {
      r = span(obj, offset, length);
    } catch (err) {
      s.prefetchErrors++;
      log.debug({ objectId: obj.objectId, key: obj.key, err: (err as Error).message }, 'read cache: prefetch refused');
      return;
    }
    if (!r) return;
    for (let line = r.first; line <= r.last; line++) {
      const key = keyOf(obj, line);
      if (lines.has(key) || inflight.has(key)) continue;
      if (prefetching >= prefetchLimit) {
        s.prefetchesDropped++;
        continue;
      }
      prefetching++;
      s.prefetches++;
      fetchLine(obj, line, key).then(
        () => { prefetching--; },
        (err: unknown) => {
          prefetching--;
          s.prefetchErrors++;
          log.debug({ objectId: obj.objectId, key: obj.key, line, err: (err as Error).message }, 'read cache: prefetch failed');
        },
      );
    }
  }

  return {
    read,
    prefetch,
    stats: () => ({ ...s, lines: lines.size }),
    async close() {
      closed = true;
      await Promise.allSettled([...inflight.values()]);
      lines.clear();
    },
  };
}
