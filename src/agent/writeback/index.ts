/**
 * Writeback: the write half of the bypass data path. Writes are buffered in log segments per
 * inode; each segment becomes one object (ProvisionObject, PUT) and is reported with Wrote.
 *
 * Parts: index.ts (per-inode segments, slots, timers, flush), types.ts (the API), segment.ts
 * (a segment's bytes, pieces and block CRC32s; resolving overlapping pieces into extents),
 * chunk-pool.ts (segment buffers used again), upload.ts (seal, PUT with retry, Wrote),
 * slots.ts (FIFO counting semaphore).
 *
 * Invariants:
 * - An inode has at most one open segment (taking writes) and a FIFO of closed ones in flight.
 *   Writes of one inode are applied one at a time in call order.
 * - Opening a segment takes one of dirtySegmentLimit slots; the slot is released when the
 *   segment's Wrote completed or it failed for good, so segment memory is at most
 *   dirtySegmentLimit x maxFlushSizeBytes (buffers kept for reuse add nothing to it:
 *   chunk-pool.ts). Writers wait for slots FIFO; while more writers wait
 *   than segments are in flight, open segments are closed (oldest first), so every waiter is
 *   owed a slot by an upload and none waits for a timer.
 * - A segment closes when full (a write that does not fit is split), maxFlushTimeMs after its
 *   first byte, when another writer needs a slot, when more than dirtyFileLimit inodes have an
 *   open segment (the oldest is closed), or on flush.
 * - Its object id is provisioned when it opens (overlapping the RPC with the writes). PUTs of
 *   closed segments run concurrently; Wrote calls of one inode go strictly in segment order.
 *   Extents sent with one Wrote never overlap: a later write within a segment wins.
 * - pending(): copies of the pieces of the open and in-flight segments within the range asked
 *   for, oldest first (a reader copies them over bytes read from objects later, by which time
 *   the segment's buffers may hold another segment's bytes). A segment leaves pending() in the
 *   same tick its Wrote's listeners run, so a reader invalidating on onWrote never misses a
 *   piece.
 * - A write that needs no slot is copied in within the call (no queue, no microtask hop):
 *   FUSE writes arrive one at a time, and every microsecond before the reply is on the path.
 * - Block CRC32s are computed as each write is copied in (segment.ts), never over a whole
 *   segment at once on the path of the write that closes it.
 * - A segment whose number the server refuses (PFS_ERR_STALE_OBJECT: expired, dead, unknown) is
 *   PUT again under a fresh number and reported (upload.ts); only a failure that a new number
 *   cannot cure is final.
 * - A segment whose PUT (after retries) or Wrote fails for good is logged with inode, object and code,
 *   its data is dropped, and the inode is marked: the next flush(ino) (or flushAll) rejects with
 *   EIO (ENOSPC when the store was full) once and clears the mark, as Linux reports writeback
 *   errors on fsync. Its ranges are reported with Unstored in the inode's segment order (after
 *   the Wrote of every earlier segment, before that of any later one), so from then on they
 *   read as EIO on every agent, never as older bytes or zeros; only then does the segment leave
 *   pending() and the onFailed listeners run. Later segments of the inode are still written.
 * - Writes to an inode whose segment failed because the store is full are refused with ENOSPC
 *   for FULL_REFUSE_MS after that failure (the application learns at write, not only at fsync;
 *   the mark is still reported by the next flush). Other inodes' writes are taken: a small
 *   write may still fit.
 * - failAll() (the mount was evicted, docs/LEASES.md §3) marks every inode with buffered or
 *   in-flight data failed and bumps the epoch: segments and writes of an older epoch are never
 *   reported with Wrote (they fail like a failed PUT), so no data buffered under a lost mount
 *   reaches the volume under a new one.
 */
import { FsError, PfsError, errorCode } from '../../common/errors/index.js';
import type { Attr, Ino } from '../../common/protocol/index.js';
import { ChunkPool } from './chunk-pool.js';
import { resolveExtents, Segment } from './segment.js';
import { Slots } from './slots.js';
import type { Writeback, WritebackOptions, WritebackStats } from './types.js';
import { provisionOne, uploadSegment, type RetryOptions, type SegmentObject } from './upload.js';

export type { RetryOptions, SegmentServer } from './upload.js';
export type { Writeback, WritebackOptions, WritebackStats } from './types.js';
export { pooledProvision } from './object-pool.js';

interface LiveSegment {
  seg: Segment;
  epoch: number;
  object: Promise<SegmentObject>;
  timer?: ReturnType<typeof setTimeout>;
  done: Promise<void>;
  markDone(): void;
}

interface InodeState {
  ino: Ino;
  open?: LiveSegment;
  closed: LiveSegment[];
  /** done of the last closed segment: the next one's Wrote waits for it. */
  lastDone: Promise<void>;
  failed?: { full: boolean; message: string; atMs: number };
  chain: Promise<void>;
  writers: number;
}

const DEFAULT_RETRY: RetryOptions = { retries: 5, minTimeoutMs: 100, factor: 2 };
/** Segment buffer size (ChunkPool); a segment smaller than this is one chunk. */
const CHUNK_BYTES = 1024 * 1024;
/** Segments' worth of buffers kept for reuse: a sequential writer on a local store has 2-4 in flight. */
const KEEP_SEGMENTS = 8;
/** The pool is emptied once no segment has been open or in flight for this long. */
const POOL_IDLE_MS = 1000;
/** After a segment of an inode failed on a full store, writes to it get ENOSPC for this long. */
const FULL_REFUSE_MS = 2000;

export function createWriteback(opts: WritebackOptions): Writeback {
  const { store, server, clock, log } = opts;
  for (const k of ['maxFlushSizeBytes', 'maxFlushTimeMs', 'dirtySegmentLimit', 'checksumBlockSizeBytes'] as const) {
    if (!Number.isSafeInteger(opts[k]) || opts[k] < 1) throw new PfsError('PFS_ERR_CONFIG', `writeback: ${k} ${opts[k]} is not a positive integer`);
  }
  const slots = new Slots(opts.dirtySegmentLimit);
  // Reused segment buffers: at most 8 segments' worth kept, none once idle for POOL_IDLE_MS.
  const chunkBytes = Math.min(CHUNK_BYTES, opts.maxFlushSizeBytes);
  const chunksPerSegment = Math.ceil(opts.maxFlushSizeBytes / chunkBytes);
  const pool = new ChunkPool(chunkBytes, Math.min(opts.dirtySegmentLimit, KEEP_SEGMENTS) * chunksPerSegment);
  let poolTrim: ReturnType<typeof setTimeout> | undefined;
  const dirtyFileLimit = opts.dirtyFileLimit ?? Infinity;
  const inodes = new Map<Ino, InodeState>();
  /** Open segments, oldest first. */
  const openSegs = new Map<LiveSegment, InodeState>();
  const listeners: ((ino: Ino, attr: Attr) => void)[] = [];
  const failListeners: ((ino: Ino) => void)[] = [];
  const s: WritebackStats = { dirtyBytes: 0, segmentsInFlight: 0, segmentsWritten: 0, bytesWritten: 0, segmentsOpen: 0, segmentsFailed: 0, segmentsMarkedUnstored: 0, writesRefusedFull: 0, putRetries: 0, segmentsReprovisioned: 0, slotWaits: 0 };
  const deps = {
    store, server, log, checksumBlockSizeBytes: opts.checksumBlockSizeBytes, retry: opts.retry ?? DEFAULT_RETRY,
    onPutRetry: () => { s.putRetries++; },
    onReprovision: () => { s.segmentsReprovisioned++; },
  };
  let closed = false;
  /** Bumped by failAll(): older segments and writes are discarded. */
  let epoch = 0;
  const discarded = (what: string): Error => new FsError('EIO', `${what} was discarded: the mount was evicted before it was written back`);

  function stateOf(ino: Ino): InodeState {
    let st = inodes.get(ino);
    if (!st) {
      st = { ino, closed: [], lastDone: Promise.resolve(), chain: Promise.resolve(), writers: 0 };
      inodes.set(ino, st);
    }
    return st;
  }

  function forgetIfIdle(st: InodeState): void {
    if (!st.open && st.closed.length === 0 && !st.failed && st.writers === 0) inodes.delete(st.ino);
  }

  function closeOldestOpen(): void {
    const oldest = openSegs.entries().next().value;
    if (oldest) closeSegment(oldest[1], oldest[0]);
  }

  /** A new segment of st, opened in the same tick its first bytes go in (never empty when closed). */
  function newSegment(st: InodeState): LiveSegment {
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => { markDone = resolve; });
    const object = provisionOne(server);
    object.catch(() => {}); // awaited by the upload; a failure is reported there
    const seg = new Segment(st.ino, opts.maxFlushSizeBytes, { pool, checksumBlockSizeBytes: opts.checksumBlockSizeBytes });
    const live: LiveSegment = { seg, epoch, object, done, markDone };
    st.open = live;
    openSegs.set(live, st);
    s.segmentsOpen++;
    return live;
  }

  async function waitForSlot(): Promise<void> {
    s.slotWaits++;
    const got = slots.acquire();
    ensureProgress();
    await got;
  }

  /**
   * Every waiting writer is owed a slot by a segment in flight; when open segments hold the
   * slots instead, the oldest are closed, so no writer waits for a timer.
   */
  function ensureProgress(): void {
    while (slots.waiting > s.segmentsInFlight && openSegs.size > 0) closeOldestOpen();
  }

  function closeSegment(st: InodeState, live: LiveSegment): void {
    if (st.open !== live) return;
    st.open = undefined;
    openSegs.delete(live);
    s.segmentsOpen--;
    clearTimeout(live.timer);
    st.closed.push(live);
    s.segmentsInFlight++;
    const before = st.lastDone;
    st.lastDone = live.done;
    void complete(st, live, before);
  }

  async function complete(st: InodeState, live: LiveSegment, before: Promise<void>): Promise<void> {
    let object: SegmentObject | undefined;
    try {
      if (live.epoch !== epoch) throw discarded('a log segment');
      object = await live.object;
      const stillCurrent = () => { if (live.epoch !== epoch) throw discarded('a log segment'); };
      const attr = await uploadSegment(deps, live.seg, object, before, stillCurrent);
      s.segmentsWritten++;
      s.bytesWritten += live.seg.sizeBytes;
      retire(st, live);
      notify(listeners, 'onWrote', (l) => l(st.ino, attr));
    } catch (err) {
      s.segmentsFailed++;
      const code = errorCode(err) ?? 'PFS_ERR_INTERNAL';
      const message = (err as Error)?.message ?? String(err);
      log.error({ ino: st.ino, objectId: object?.objectId, key: object?.key, code, err: message }, 'writeback: a log segment failed for good; its writes are lost');
      // The store is out of space, or the volume at its Capacity (Wrote refused with ENOSPC).
      const full = code === 'PFS_ERR_OBJECT_STORE_FULL' || code === 'ENOSPC';
      const failure = { full, message: `inode ${st.ino}: writing back ${live.seg.sizeBytes} bytes${object ? ` to object ${object.key}` : ''} failed: ${message}`, atMs: performance.now() };
      if (!st.failed) st.failed = failure;
      else if (full) Object.assign(st.failed, { full, atMs: failure.atMs });
      const attr = live.epoch === epoch ? await markUnstored(st, live, before) : undefined;
      retire(st, live);
      if (attr) notify(listeners, 'onWrote', (l) => l(st.ino, attr));
      notify(failListeners, 'onFailed', (l) => l(st.ino));
    } finally {
      slots.release();
      live.markDone();
      forgetIfIdle(st);
    }
  }

  /**
   * After every earlier segment of the inode: the failed segment's ranges are reported with
   * Unstored, so they read as EIO. Resolves with the attributes, or undefined when the mount was
   * evicted meanwhile or the call failed (logged: the ranges may then read as older bytes).
   */
  async function markUnstored(st: InodeState, live: LiveSegment, before: Promise<void>): Promise<Attr | undefined> {
    await before;
    if (live.epoch !== epoch) return undefined;
    const ranges = resolveExtents(live.seg.pieces).map((r) => ({ fileOffset: r.fileOffset, length: r.length }));
    try {
      const attr = await server.unstored({ ino: st.ino, ranges });
      s.segmentsMarkedUnstored++;
      return attr;
    } catch (err) {
      log.error({ ino: st.ino, ranges: ranges.length, code: errorCode(err), err: (err as Error).message },
        'writeback: could not mark the ranges of a failed log segment unstored; until they are rewritten they may read as the bytes they held before');
      return undefined;
    }
  }

  function notify<L>(list: L[], what: string, call: (l: L) => void): void {
    for (const l of list) {
      try {
        call(l);
      } catch (err) {
        log.error({ err: (err as Error).message }, `writeback: ${what} listener threw`);
      }
    }
  }

  /**
   * Drops a finished segment from the inode's list (and so from pending()); its buffers go back
   * to the pool. Also after a failure: a failed request still sending them can only garble
   * bytes of an object that is never reported.
   */
  function retire(st: InodeState, live: LiveSegment): void {
    const i = st.closed.indexOf(live);
    if (i >= 0) st.closed.splice(i, 1);
    s.segmentsInFlight--;
    s.dirtyBytes -= live.seg.sizeBytes;
    live.seg.release(pool);
    if (openSegs.size === 0 && s.segmentsInFlight === 0 && !poolTrim) {
      poolTrim = setTimeout(() => {
        poolTrim = undefined;
        if (openSegs.size === 0 && s.segmentsInFlight === 0) pool.clear();
      }, POOL_IDLE_MS);
      poolTrim.unref?.();
    }
  }

  /**
   * Appends data[done..] (written at offset) as far as it goes without waiting: into the open
   * segment, or a new one while a slot is free. Returns how many bytes of data are in.
   */
  function appendSome(st: InodeState, offset: number, data: Buffer, done: number): number {
    while (done < data.length) {
      let live = st.open;
      if (!live) {
        if (!slots.tryAcquire()) return done;
        live = newSegment(st);
      }
      const n = Math.min(live.seg.roomBytes, data.length - done);
      const first = live.seg.sizeBytes === 0;
      live.seg.append(offset + done, data.subarray(done, done + n), clock.now());
      s.dirtyBytes += n;
      done += n;
      if (first) {
        const l = live;
        l.timer = setTimeout(() => closeSegment(st, l), opts.maxFlushTimeMs);
        l.timer.unref?.();
        if (openSegs.size > dirtyFileLimit) closeOldestOpen();
        ensureProgress();
      }
      if (live.seg.roomBytes === 0) closeSegment(st, live);
    }
    return done;
  }

  /** The rest of a write from data[done..], waiting for slots as needed (in the inode's write queue). */
  async function writeInto(st: InodeState, offset: number, data: Buffer, writeEpoch: number, done: number): Promise<void> {
    for (;;) {
      if (writeEpoch !== epoch) throw discarded('a write');
      done = appendSome(st, offset, data, done);
      if (done === data.length) return;
      await waitForSlot();
      if (writeEpoch !== epoch || st.open) {
        slots.release(); // evicted meanwhile (or, defensively, a segment appeared): not ours to use
        continue;
      }
      newSegment(st);
    }
  }

  async function flush(ino: Ino): Promise<void> {
    const st = inodes.get(ino);
    if (!st) return;
    if (st.open) closeSegment(st, st.open);
    await Promise.all(st.closed.map((l) => l.done));
    const failed = st.failed;
    if (failed) {
      st.failed = undefined;
      forgetIfIdle(st);
      // A full object store is ENOSPC, as a full disk is for Linux's writeback.
      throw new FsError(failed.full ? 'ENOSPC' : 'EIO', failed.message);
    }
  }

  async function flushAll(): Promise<void> {
    const results = await Promise.allSettled([...inodes.keys()].map((ino) => flush(ino)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (errors.length > 0) throw new FsError('EIO', errors.join('; '));
  }

  function segmentsOf(ino: Ino): Segment[] {
    const st = inodes.get(ino);
    if (!st) return [];
    const segs = st.closed.map((l) => l.seg);
    if (st.open) segs.push(st.open.seg);
    return segs;
  }

  return {
    async write(ino, offset, data) {
      if (closed) throw new PfsError('PFS_ERR_INTERNAL', `writeback: write to inode ${ino} after close`);
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + data.length)) {
        throw new FsError('EINVAL', `write to inode ${ino} at offset ${offset}`);
      }
      if (data.length === 0) return;
      const refused = inodes.get(ino)?.failed;
      if (refused?.full && performance.now() - refused.atMs < FULL_REFUSE_MS) {
        s.writesRefusedFull++;
        throw new FsError('ENOSPC', `write to inode ${ino} refused: the object store was full when its last log segment was written (${refused.message})`);
      }
      const st = stateOf(ino);
      const writeEpoch = epoch;
      // No write of this inode queued or running: copy in now, in this tick (the common case);
      // only a write that must wait for a slot goes through the queue.
      const done = st.writers === 0 ? appendSome(st, offset, data, 0) : 0;
      if (done === data.length) return;
      st.writers++;
      const run = st.chain.then(() => writeInto(st, offset, data, writeEpoch, done));
      st.chain = run.catch(() => {});
      try {
        await run;
      } finally {
        st.writers--;
        forgetIfIdle(st);
      }
    },
    flush,
    flushAll,
    async settle(ino) {
      const st = inodes.get(ino);
      if (!st) return;
      if (st.open) closeSegment(st, st.open);
      await Promise.all(st.closed.map((l) => l.done));
    },
    failAll(message) {
      epoch++;
      const failed: Ino[] = [];
      for (const st of inodes.values()) {
        if (!st.open && st.closed.length === 0 && st.writers === 0) continue;
        failed.push(st.ino);
        st.failed ??= { full: false, message: `inode ${st.ino}: ${message}`, atMs: performance.now() };
        if (st.open) closeSegment(st, st.open); // its upload sees the old epoch and fails
      }
      return failed;
    },
    pending(ino, offset = 0, length = Infinity) {
      const end = offset + length;
      const out: { fileOffset: number; data: Buffer }[] = [];
      for (const seg of segmentsOf(ino)) {
        for (const p of seg.pieces) {
          const from = Math.max(offset, p.fileOffset);
          const to = Math.min(end, p.fileOffset + p.length);
          if (from < to) out.push({ fileOffset: from, data: Buffer.from(p.data.subarray(from - p.fileOffset, to - p.fileOffset)) });
        }
      }
      return out;
    },
    dirtyEnd(ino) {
      return segmentsOf(ino).reduce((end, seg) => Math.max(end, seg.endOffset), 0);
    },
    dirtyMtime(ino) {
      const segs = segmentsOf(ino);
      for (let i = segs.length - 1; i >= 0; i--) if (segs[i]!.lastWrite) return segs[i]!.lastWrite;
      return undefined;
    },
    onWrote(listener) {
      listeners.push(listener);
    },
    onFailed(listener) {
      failListeners.push(listener);
    },
    stats: () => ({ ...s }),
    async close() {
      closed = true;
      for (const [live, st] of [...openSegs]) closeSegment(st, live);
      await Promise.allSettled([...inodes.values()].map((st) => st.chain));
      try {
        await flushAll();
      } finally {
        for (const live of openSegs.keys()) clearTimeout(live.timer);
        clearTimeout(poolTrim);
        pool.clear();
      }
    },
  };
}
