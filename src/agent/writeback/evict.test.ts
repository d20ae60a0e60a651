/**
 * Writeback under leases: settle() (the lease manager's flush) keeps a failure for the
 * application's fsync; failAll() (eviction) fails every inode with buffered or in-flight data
 * and never reports that data with Wrote, nor writes already waiting.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { manualClock } from '../../common/clock/index.js';
import { openLocalStore, type ObjectStore } from '../../common/objectstore/index.js';
import { createWriteback, type Writeback } from './index.js';
import { fakeServer, gatedStore, quietLog, type FakeServer } from './test-helpers.js';

const HOUR = 3_600_000;

describe('writeback and leases', () => {
  let dir: string;
  let local: ObjectStore;
  let server: FakeServer;
  let wb: Writeback | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfs-writeback-evict-'));
    local = openLocalStore(dir);
    server = fakeServer();
  });
  afterEach(async () => {
    await wb?.close().catch(() => {});
    wb = undefined;
    await local.close();
    await rm(dir, { recursive: true, force: true });
  });

  const make = (store: ObjectStore) => (wb = createWriteback({
    store, server, clock: manualClock(), log: quietLog, maxFlushSizeBytes: 4096, maxFlushTimeMs: HOUR, dirtySegmentLimit: 4,
    checksumBlockSizeBytes: 1024, retry: { retries: 0, minTimeoutMs: 1, factor: 1 },
  }));

  it('settle writes back like flush but leaves a failure for the next flush', async () => {
    const w = make(local);
    await w.write(1, 0, Buffer.alloc(100, 1));
    await w.settle(1);
    assert.equal(server.calls.length, 1);
    assert.equal(w.dirtyEnd(1), 0);
    server.failWrotes = 1;
    await w.write(1, 100, Buffer.alloc(100, 2));
    await w.settle(1); // does not reject
    await assert.rejects(w.flush(1), { code: 'EIO' }, 'the application still hears of it');
    await w.flush(1);
  });

  it('failAll: open and in-flight segments are never reported, their inodes fail once, later writes go through', async () => {
    const gated = gatedStore(local);
    const w = make(gated);
    await w.write(1, 0, Buffer.alloc(5000, 1)); // one segment in flight (PUT held), one open
    await w.write(2, 0, Buffer.alloc(10, 2));   // open
    await new Promise((r) => setImmediate(r));
    assert.equal(gated.waiting(), 1);
    assert.deepEqual(w.failAll('evicted').sort(), [1, 2]);
    gated.release();
    await assert.rejects(w.flush(1), { code: 'EIO' });
    await assert.rejects(w.flush(2), { code: 'EIO' });
    assert.equal(server.calls.length, 0, 'no Wrote for data buffered under the lost mount');
    assert.equal(w.dirtyEnd(1), 0);
    await w.write(1, 0, Buffer.alloc(10, 3));
    await w.flush(1);
    assert.equal(server.calls.length, 1, 'new writes are written back');
  });

  it('failAll: a write waiting for a slot, and one queued behind it, are refused', async () => {
    const gated = gatedStore(local);
    const w = make(gated);
    await w.write(3, 0, Buffer.alloc(4 * 4096, 1)); // 4 full segments in flight (PUTs held): every slot taken
    const first = w.write(3, 4 * 4096, Buffer.alloc(10, 2)); // waits for a slot
    const second = w.write(3, 4 * 4096 + 10, Buffer.alloc(10, 3)); // queued behind the first
    await new Promise((r) => setImmediate(r));
    w.failAll('evicted');
    gated.release();
    await assert.rejects(first, { code: 'EIO' });
    await assert.rejects(second, { code: 'EIO' });
    await assert.rejects(w.flush(3), { code: 'EIO' });
    assert.equal(server.calls.length, 0);
    assert.equal(w.dirtyEnd(3), 0);
  });

  it('failAll: a write already buffered (copied in at once) is never reported either', async () => {
    const w = make(local);
    const first = w.write(3, 0, Buffer.alloc(10, 1));
    const second = w.write(3, 10, Buffer.alloc(10, 2));
    w.failAll('evicted');
    await Promise.all([first, second]); // both were copied in before the eviction
    await assert.rejects(w.flush(3), { code: 'EIO' });
    assert.equal(server.calls.length, 0);
  });
});
