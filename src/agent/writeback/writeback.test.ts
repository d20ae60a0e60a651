import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { manualClock } from '../../common/clock/index.js';
import { openLocalStore, withFaults, type FaultyStore, type ObjectStore } from '../../common/objectstore/index.js';
import { objectKey, type Attr, type Ino } from '../../common/protocol/index.js';
import { PfsError } from '../../common/errors/index.js';
import { createWriteback, type Writeback, type WritebackOptions } from './index.js';
import { MAX_REPROVISIONS } from './upload.js';
import { delayingStore, fakeServer, FileModel, gatedStore, quietLog, replay, waitFor, type FakeServer } from './test-helpers.js';

const BLOCK = 1024;
const HOUR = 3_600_000;

describe('writeback', () => {
  let dir: string;
  let local: ObjectStore;
  let store: FaultyStore;
  let server: FakeServer;
  let wb: Writeback | undefined;
  const clock = manualClock();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfs-writeback-'));
    local = openLocalStore(dir);
    store = withFaults(local);
    server = fakeServer();
  });
  afterEach(async () => {
    await wb?.close().catch(() => {});
    wb = undefined;
    await local.close();
    await rm(dir, { recursive: true, force: true });
  });

  function make(o: Partial<WritebackOptions> = {}): Writeback {
    wb = createWriteback({
      store, server, clock, log: quietLog, maxFlushSizeBytes: 4096, maxFlushTimeMs: HOUR, dirtySegmentLimit: 4,
      checksumBlockSizeBytes: BLOCK, retry: { retries: 3, minTimeoutMs: 1, factor: 1 }, ...o,
    });
    return wb;
  }

  it('splits a write at maxFlushSize and reports the segments in order with their CRC32 lists', async () => {
    const w = make();
    const data = randomBytes(10_000);
    await w.write(5, 100, data);
    await waitFor(() => server.calls.length === 2); // two full segments closed by size, without flush
    assert.deepEqual(server.calls.map((c) => c.object.sizeBytes), [4096, 4096]);
    assert.equal(w.dirtyEnd(5), 10_100);
    await w.flush(5);
    assert.deepEqual(server.calls.map((c) => c.object.sizeBytes), [4096, 4096, 1808]);
    assert.deepEqual(server.calls.map((c) => c.extents), [
      [{ fileOffset: 100, length: 4096, objectId: 1, objectOffset: 0 }],
      [{ fileOffset: 4196, length: 4096, objectId: 2, objectOffset: 0 }],
      [{ fileOffset: 8292, length: 1808, objectId: 3, objectOffset: 0 }],
    ]);
    const expected = new FileModel();
    expected.write(100, data);
    assert.deepEqual((await replay(store, server.calls, 5)).bytes, expected.bytes); // checks CRC32 lists too
    assert.deepEqual(w.pending(5), []);
    assert.equal(w.dirtyEnd(5), 0);
    assert.deepEqual(w.stats(), { dirtyBytes: 0, segmentsInFlight: 0, segmentsWritten: 3, bytesWritten: 10_000, segmentsOpen: 0, segmentsFailed: 0, segmentsMarkedUnstored: 0, writesRefusedFull: 0, putRetries: 0, segmentsReprovisioned: 0, slotWaits: 0 });
  });

  it('closes a segment maxFlushTimeMs after its first byte', async () => {
    const w = make({ maxFlushTimeMs: 30 });
    await w.write(1, 0, Buffer.from('hello'));
    const t = clock.now();
    clock.advanceMs(5);
    await w.write(1, 5, Buffer.from(' world'));
    const t2 = clock.now();
    assert.deepEqual(w.dirtyMtime(1), t2);
    assert.notDeepEqual(t, t2);
    assert.equal(server.calls.length, 0);
    await waitFor(() => server.calls.length === 1, 2000);
    assert.deepEqual(server.calls[0]!.extents, [{ fileOffset: 0, length: 11, objectId: 1, objectOffset: 0 }]);
    assert.deepEqual(server.calls[0]!.mtime, t2, 'mtime is the time of the last write');
    await waitFor(() => w.pending(1).length === 0);
    assert.equal(w.dirtyMtime(1), undefined);
  });

  it('keeps data buffered until flush, then resolves after Wrote and calls onWrote in order', async () => {
    const w = make({ maxFlushSizeBytes: 1 << 20 });
    const seen: [Ino, Attr][] = [];
    w.onWrote((ino, attr) => seen.push([ino, attr]));
    await w.write(3, 0, Buffer.alloc(100, 1));
    await w.write(4, 0, Buffer.alloc(50, 2));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.calls.length, 0);
    assert.equal(w.stats().dirtyBytes, 150);
    await w.flush(3);
    assert.deepEqual(server.calls.map((c) => c.ino), [3]);
    assert.deepEqual(seen.map(([ino, a]) => [ino, a.size]), [[3, 100]]);
    assert.equal(w.pending(4).length, 1);
    await w.flushAll();
    assert.deepEqual(seen.map(([ino, a]) => [ino, a.size]), [[3, 100], [4, 50]]);
    await w.flush(3); // nothing left: resolves at once
    assert.equal(server.calls.length, 2);
  });

  it('sends Wrote calls of one inode in segment order even when PUTs finish out of order', async () => {
    let n = 0;
    const slowFirst = delayingStore(store, () => (n++ === 0 ? 60 : 0));
    const w = make({ store: slowFirst, maxFlushSizeBytes: 1000, dirtySegmentLimit: 8 });
    const order: number[] = [];
    w.onWrote((_ino, attr) => order.push(attr.size));
    const data = randomBytes(3500);
    await w.write(9, 0, data);
    await w.flush(9);
    assert.equal(slowFirst.putsDone.at(-1), '1000000000000000', 'the first segment PUT finished last');
    assert.deepEqual(server.calls.map((c) => c.object.objectId), [1, 2, 3, 4]);
    assert.deepEqual(order, [1000, 2000, 3000, 3500]);
    const expected = new FileModel();
    expected.write(0, data);
    assert.deepEqual((await replay(store, server.calls, 9)).bytes, expected.bytes);
  });

  it('reports overlapping writes within a segment as non-overlapping extents, later writes winning', async () => {
    const w = make({ maxFlushSizeBytes: 1 << 16 });
    const expected = new FileModel();
    for (const [off, len, v] of [[0, 1000, 1], [500, 100, 2], [550, 1000, 3], [0, 10, 4], [2000, 10, 5]] as const) {
      const buf = Buffer.alloc(len, v);
      await w.write(2, off, buf);
      expected.write(off, buf);
    }
    await w.flush(2);
    assert.equal(server.calls.length, 1);
    assert.deepEqual(server.calls[0]!.extents.map((e) => [e.fileOffset, e.length]), [[0, 10], [10, 490], [500, 50], [550, 1000], [2000, 10]]);
    assert.deepEqual((await replay(store, server.calls, 2)).bytes, expected.bytes);
  });

  it('pending() pieces stay valid and unchanged as later writes arrive', async () => {
    const w = make({ maxFlushSizeBytes: 1 << 16 });
    await w.write(8, 0, Buffer.alloc(100, 1));
    const snap = w.pending(8);
    await w.write(8, 0, Buffer.alloc(100, 2));
    await w.write(8, 100, Buffer.alloc(100, 3));
    assert.deepEqual(snap, [{ fileOffset: 0, data: Buffer.alloc(100, 1) }]);
    const all = w.pending(8);
    const expected = [[0, 1, 100], [0, 2, 200]]; // the sequential third write extends the second piece
    assert.deepEqual(all.map((p) => [p.fileOffset, p.data[0], p.data.length]), expected);
    assert.equal(all[1]!.data[100], 3);
    await w.flush(8);
    assert.deepEqual(snap, [{ fileOffset: 0, data: Buffer.alloc(100, 1) }]);
    assert.deepEqual(all.map((p) => [p.fileOffset, p.data[0], p.data.length]), expected);
  });

  it('pending(ino, offset, length) copies only the bytes in range, and copies stay put when buffers are reused', async () => {
    const w = make();
    await w.write(9, 0, Buffer.alloc(3000, 1));
    await w.write(9, 1000, Buffer.alloc(500, 2));
    assert.deepEqual(w.pending(9, 900, 200).map((p) => [p.fileOffset, p.data.length, p.data[0]]), [[900, 200, 1], [1000, 100, 2]]);
    assert.deepEqual(w.pending(9, 3000, 10), []);
    const snap = w.pending(9);
    await w.flush(9);
    // The next segments fill the chunks the flushed one gave back.
    await w.write(9, 0, Buffer.alloc(4096 * 3, 7));
    await w.flush(9);
    assert.deepEqual(snap.map((p) => [p.fileOffset, p.data.length, p.data.every((b) => b === p.data[0]), p.data[0]]), [[0, 3000, true, 1], [1000, 500, true, 2]]);
    assert.deepEqual((await replay(store, server.calls, 9)).bytes, Buffer.alloc(4096 * 3, 7));
  });

  it('reuses segment buffers across segments without mixing their bytes', async () => {
    const w = make({ maxFlushSizeBytes: 8192, dirtySegmentLimit: 2 });
    const expected = new FileModel();
    for (let i = 0; i < 40; i++) {
      const data = randomBytes(1000 + ((i * 997) % 5000));
      const off = (i * 3001) % 20_000;
      await w.write(11, off, data);
      expected.write(off, data);
      if (i % 7 === 0) await w.flush(11);
    }
    await w.flush(11);
    assert.deepEqual((await replay(store, server.calls, 11)).bytes, expected.bytes);
  });

  it('bounds open plus in-flight segments by dirtySegmentLimit; writers wait in order', async () => {
    const gate = gatedStore(store);
    const w = make({ store: gate, dirtySegmentLimit: 2 });
    let maxAlive = 0;
    const sample = () => { const st = w.stats(); maxAlive = Math.max(maxAlive, st.segmentsOpen + st.segmentsInFlight); };
    server.onWroteCall = sample;
    const resolved: number[] = [];
    const writes = [1, 2, 3, 4, 5].map((ino) => w.write(ino, 0, Buffer.alloc(100, ino)).then(() => { resolved.push(ino); sample(); }));
    await new Promise((r) => setTimeout(r, 20));
    sample();
    assert.deepEqual(resolved, [1, 2]);
    assert.equal(gate.waiting(), 2, 'waiting writers closed the oldest open segments');
    gate.release();
    await Promise.all(writes);
    assert.deepEqual(resolved, [1, 2, 3, 4, 5]);
    await w.flushAll();
    assert.ok(maxAlive <= 2, `at most 2 segments alive, saw ${maxAlive}`);
    assert.equal(w.stats().slotWaits, 3);
    for (const ino of [1, 2, 3, 4, 5]) assert.deepEqual((await replay(store, server.calls, ino)).bytes, Buffer.alloc(100, ino));
  });

  it('closes the oldest open segment beyond dirtyFileLimit', async () => {
    const w = make({ dirtyFileLimit: 2, dirtySegmentLimit: 10 });
    for (const ino of [1, 2, 3]) await w.write(ino, 0, Buffer.alloc(10));
    await waitFor(() => server.calls.length === 1);
    assert.equal(server.calls[0]!.ino, 1);
    assert.equal(w.stats().segmentsOpen, 2);
  });

  it('retries failed PUTs, then reports EIO once on flush and logs the failure', async () => {
    const errors: object[] = [];
    const log = { ...quietLog, error: (o: object | string) => { errors.push(o as object); } };
    const w = make({ log });
    store.plan.failNext = { put: 2 };
    await w.write(6, 0, Buffer.alloc(10, 1));
    await w.flush(6);
    assert.equal(w.stats().putRetries, 2);
    assert.equal(server.calls.length, 1);

    store.plan.failNext = { put: 4 }; // 1 try + 3 retries
    await w.write(6, 10, Buffer.alloc(10, 2));
    await assert.rejects(w.flush(6), (err: Error & { code?: string }) => err.code === 'EIO' && /inode 6/.test(err.message) && /2000000000000000/.test(err.message));
    await w.flush(6); // reported once
    assert.deepEqual(errors, [{ ino: 6, objectId: 2, key: '2000000000000000', code: 'PFS_ERR_OBJECT_STORE', err: 'PFS_ERR_OBJECT_STORE: injected fault: put 2000000000000000' }]);
    assert.deepEqual(w.pending(6), []);
    assert.equal(w.stats().segmentsFailed, 1);
    await w.write(6, 20, Buffer.alloc(10, 3)); // the slot came back; later writes go through
    await w.flush(6);
    assert.equal(server.calls.length, 2);
  });

  it('a failed Wrote marks the inode; later segments are still reported', async () => {
    const w = make({ maxFlushSizeBytes: 100 });
    server.failWrotes = 1;
    await w.write(7, 0, Buffer.alloc(250, 1));
    await assert.rejects(w.flush(7), { code: 'EIO' });
    assert.deepEqual(server.calls.map((c) => c.extents[0]!.fileOffset), [100, 200]);
    await w.flush(7);
  });

  it('a failed segment is reported Unstored in segment order (after the Wrote before it, before the one after), then leaves pending and onFailed runs', async () => {
    // Segment 2 (bytes 100..199) fails for good, while segment 1's PUT is still running; 1 and 3 are written.
    const keyed: ObjectStore = {
      ...store,
      async put(key, body, o) {
        if (key === objectKey(2)) throw new PfsError('PFS_ERR_OBJECT_STORE_FULL', `injected: put ${key} (full)`);
        if (key === objectKey(1)) await new Promise((r) => setTimeout(r, 50));
        return store.put(key, body, o);
      },
    };
    const v = make({ store: keyed, maxFlushSizeBytes: 100 });
    const failed: Ino[] = [];
    let pendingAtFail = -1;
    v.onFailed((ino) => { failed.push(ino); pendingAtFail = v.pending(ino, 100, 100).length; });
    await v.write(8, 0, Buffer.alloc(250, 1));
    await assert.rejects(v.flush(8), { code: 'ENOSPC' });
    assert.deepEqual(server.log, ['wrote 8', 'unstored 8', 'wrote 8']);
    assert.deepEqual(server.unstoredCalls, [{ ino: 8, ranges: [{ fileOffset: 100, length: 100 }] }]);
    assert.deepEqual(failed, [8]);
    assert.equal(pendingAtFail, 0, 'the failed bytes are not served from pending once onFailed runs');
    assert.equal(v.stats().segmentsMarkedUnstored, 1);
  });

  it('writes to an inode whose segment failed on a full store get ENOSPC for a while; other inodes are taken', async () => {
    const w = make({ retry: { retries: 0, minTimeoutMs: 1, factor: 1 } });
    store.plan.failNext = { put: 1 };
    store.plan.errorFor = (op, key) => new PfsError('PFS_ERR_OBJECT_STORE_FULL', `injected: ${op} ${key} (full)`);
    await w.write(9, 0, Buffer.alloc(10, 1));
    await w.settle(9);
    await assert.rejects(w.write(9, 10, Buffer.alloc(10, 2)), (e: Error & { code?: string }) => e.code === 'ENOSPC' && /full/.test(e.message));
    await w.write(10, 0, Buffer.alloc(10, 3)); // another file: may fit
    await assert.rejects(w.flush(9), { code: 'ENOSPC' }); // the failure itself is still reported by flush
    await w.write(9, 10, Buffer.alloc(10, 2)); // reported: taken again
    await w.flush(9);
    await w.flush(10);
    assert.equal(w.stats().writesRefusedFull, 1);
    assert.deepEqual(server.unstoredCalls, [{ ino: 9, ranges: [{ fileOffset: 0, length: 10 }] }]);
  });

  it('a segment whose object number the server refused is written again under a fresh one', async () => {
    const warns: string[] = [];
    const w = make({ log: { ...quietLog, warn: (_o: object, msg: string) => { warns.push(msg); } } });
    server.onWroteCall = (p) => { if (server.calls.length === 0 && !server.expired.size) server.expired.add(p.object.objectId); };
    await w.write(8, 0, Buffer.alloc(3000, 8));
    await w.flush(8);
    server.onWroteCall = undefined;
    assert.equal(server.calls.length, 1);
    const refused = [...server.expired][0]!;
    assert.notEqual(server.calls[0]!.object.objectId, refused);
    assert.equal(server.freshProvisions, 1);
    assert.deepEqual((await replay(store, server.calls, 8)).bytes, Buffer.alloc(3000, 8));
    assert.equal(w.stats().segmentsReprovisioned, 1);
    assert.equal(w.stats().segmentsFailed, 0);
    assert.ok(warns.some((m) => /refused the log segment's object number/.test(m)), warns.join('; '));
    for (let i = 0; i < 500 && await local.head(objectKey(refused)).then(() => true, () => false); i++) await new Promise((r) => setTimeout(r, 2));
    await assert.rejects(local.head(objectKey(refused)), { code: 'PFS_ERR_OBJECT_MISSING' }, 'the refused key is deleted');
  });

  it('a refusal a fresh number cannot cure is EIO on flush, once', async () => {
    const w = make();
    server.onWroteCall = (p) => { server.expired.add(p.object.objectId); };
    await w.write(9, 0, Buffer.alloc(10, 9));
    await assert.rejects(w.flush(9), { code: 'EIO', message: /PFS_ERR_STALE_OBJECT|expired/ });
    assert.equal(server.freshProvisions, MAX_REPROVISIONS);
    assert.equal(w.stats().segmentsFailed, 1);
    server.onWroteCall = undefined;
    await w.flush(9);
  });

  it('close() flushes everything and refuses later writes', async () => {
    const w = make();
    await w.write(1, 0, Buffer.alloc(10));
    await w.write(2, 0, Buffer.alloc(10));
    await w.close();
    assert.equal(server.calls.length, 2);
    await assert.rejects(w.write(1, 0, Buffer.alloc(1)), { code: 'PFS_ERR_INTERNAL' });
    await assert.rejects(w.write(1, -1, Buffer.alloc(1)), { code: 'PFS_ERR_INTERNAL' });
  });

  it('rejects bad offsets and ignores empty writes', async () => {
    const w = make();
    await assert.rejects(w.write(1, -1, Buffer.alloc(1)), { code: 'EINVAL' });
    await assert.rejects(w.write(1, 1.5, Buffer.alloc(1)), { code: 'EINVAL' });
    await w.write(1, 0, Buffer.alloc(0));
    assert.equal(server.provisioned, 0);
    assert.throws(() => make({ dirtySegmentLimit: 0 }), { code: 'PFS_ERR_CONFIG' });
  });
});
