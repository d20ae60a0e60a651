/**
 * Test support for writeback: a fake SegmentServer that checks and records Wrote calls the way
 * the volume server would, a replay of recorded Wrote calls into file bytes, and store wrappers.
 */
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { FsError, PfsError } from '../../common/errors/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import { objectKey, type Attr, type Ino, type Timespec, type WroteParams } from '../../common/protocol/index.js';
import type { SegmentServer } from './index.js';

export const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

export type WroteCall = Omit<WroteParams, 'mountId' | 'cred'>;

export interface FakeServer extends SegmentServer {
  readonly calls: WroteCall[];
  provisioned: number;
  /** Rejects the next n Wrote calls with FsError EINVAL. */
  failWrotes: number;
  /** Object numbers the server no longer accepts (expired): Wrote naming one is PFS_ERR_STALE_OBJECT. */
  readonly expired: Set<number>;
  /** Marks every number handed out so far and not yet reported expired. */
  expireAll(): void;
  /** provision calls with fresh set. */
  freshProvisions: number;
  /** Called when Wrote starts (before its checks), e.g. to sample state. */
  onWroteCall?: (p: WroteCall) => void;
  /** Unstored calls, in arrival order. */
  readonly unstoredCalls: { ino: Ino; ranges: { fileOffset: number; length: number }[] }[];
  /** Every successful Wrote and Unstored of any inode, in arrival order ('wrote 7', 'unstored 7'). */
  readonly log: string[];
}

export function fakeServer(): FakeServer {
  let nextId = 1;
  const sizes = new Map<Ino, number>();
  const reported = new Set<number>();
  const srv: FakeServer = {
    calls: [],
    unstoredCalls: [],
    log: [],
    provisioned: 0,
    failWrotes: 0,
    expired: new Set(),
    freshProvisions: 0,
    expireAll() {
      for (let id = 1; id < nextId; id++) if (!reported.has(id)) srv.expired.add(id);
    },
    async provision(count, fresh) {
      srv.provisioned += count;
      if (fresh) srv.freshProvisions++;
      return Array.from({ length: count }, () => { const objectId = nextId++; return { objectId, key: objectKey(objectId) }; });
    },
    async wrote(p) {
      srv.onWroteCall?.(p);
      await new Promise((r) => setImmediate(r));
      if (srv.failWrotes > 0) {
        srv.failWrotes--;
        throw new FsError('EINVAL', 'injected Wrote failure');
      }
      const o = p.object;
      if (srv.expired.has(o.objectId)) throw new PfsError('PFS_ERR_STALE_OBJECT', `object ${o.objectId} was never provisioned or has expired; provision a new one`);
      reported.add(o.objectId);
      assert.equal(o.crc32.length, Math.ceil(o.sizeBytes / o.blockSizeBytes), 'one CRC32 per block');
      let prevEnd = -1;
      for (const e of p.extents) {
        assert.equal(e.objectId, o.objectId);
        assert.ok(e.length > 0 && e.objectOffset + e.length <= o.sizeBytes, `extent inside the object: ${JSON.stringify(e)}`);
        assert.ok(e.fileOffset >= prevEnd, `extents sorted and not overlapping: ${JSON.stringify(p.extents)}`);
        prevEnd = e.fileOffset + e.length;
      }
      srv.calls.push(p);
      srv.log.push(`wrote ${p.ino}`);
      const size = Math.max(sizes.get(p.ino) ?? 0, prevEnd);
      sizes.set(p.ino, size);
      return attrOf(p.ino, size, p.mtime);
    },
    async unstored(p) {
      await new Promise((r) => setImmediate(r));
      srv.unstoredCalls.push(p);
      srv.log.push(`unstored ${p.ino}`);
      return attrOf(p.ino, sizes.get(p.ino) ?? 0, { sec: 0, nsec: 0 });
    },
  };
  return srv;
}

function attrOf(ino: Ino, size: number, t: Timespec): Attr {
  return { ino, mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, size, blocks: Math.ceil(size / 512), atime: t, mtime: t, ctime: t, crtime: t };
}

/** CRC32 per block, computed independently of the code under test. */
export function crcs(data: Buffer, blockSizeBytes: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < data.length; off += blockSizeBytes) out.push(crc32(data.subarray(off, off + blockSizeBytes)));
  return out;
}

/** A byte-array model of one file: writes applied in order, gaps zero. */
export class FileModel {
  bytes = Buffer.alloc(0);
  write(offset: number, data: Buffer): void {
    const end = offset + data.length;
    if (end > this.bytes.length) this.bytes = Buffer.concat([this.bytes, Buffer.alloc(end - this.bytes.length)]);
    data.copy(this.bytes, offset);
  }
  clone(): FileModel {
    const m = new FileModel();
    m.bytes = Buffer.from(this.bytes);
    return m;
  }
}

/**
 * Replays Wrote calls of ino (reading each object from the store, checking its CRC32 list) into
 * a model file.
 */
export async function replay(store: ObjectStore, calls: readonly WroteCall[], ino: Ino, into = new FileModel()): Promise<FileModel> {
  for (const c of calls) {
    if (c.ino !== ino) continue;
    const body = await store.get(objectKey(c.object.objectId));
    assert.equal(body.length, c.object.sizeBytes);
    assert.deepEqual(c.object.crc32, crcs(body, c.object.blockSizeBytes), 'CRC32 list matches the object bytes');
    for (const e of c.extents) into.write(e.fileOffset, body.subarray(e.objectOffset, e.objectOffset + e.length));
  }
  return into;
}

/** A store whose puts wait delayMs(key) first. */
export function delayingStore(store: ObjectStore, delayMs: (key: string) => number): ObjectStore & { putsDone: string[] } {
  const putsDone: string[] = [];
  return {
    ...store,
    putsDone,
    async put(key, body, opts) {
      await new Promise((r) => setTimeout(r, delayMs(key)));
      await store.put(key, body, opts);
      putsDone.push(key);
    },
  };
}

/** A store whose puts wait until release(). */
export function gatedStore(store: ObjectStore): ObjectStore & { release(): void; waiting(): number } {
  let open = false;
  let waiters: (() => void)[] = [];
  return {
    ...store,
    async put(key, body, opts) {
      if (!open) await new Promise<void>((r) => waiters.push(r));
      await store.put(key, body, opts);
    },
    release() { open = true; const w = waiters; waiters = []; w.forEach((f) => f()); },
    waiting: () => waiters.length,
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}
