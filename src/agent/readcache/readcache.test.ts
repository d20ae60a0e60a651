import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { openLocalStore, withFaults, type FaultyStore, type ObjectStore } from '../../common/objectstore/index.js';
import { objectKey, type ObjectChecksums } from '../../common/protocol/index.js';
import { createReadCache, type ReadCache } from './index.js';

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
const BLOCK = 1024;
const LINE = 4 * BLOCK;
const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

function checksums(objectId: number, data: Buffer, blockSizeBytes = BLOCK): ObjectChecksums {
  const crcs: number[] = [];
  for (let off = 0; off < data.length; off += blockSizeBytes) crcs.push(crc32(data.subarray(off, off + blockSizeBytes)));
  return { objectId, key: objectKey(objectId), sizeBytes: data.length, blockSizeBytes, crc32: crcs };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

/** A store whose gets wait until release() (to hold fetches in flight). */
function gated(store: ObjectStore): ObjectStore & { release(): void; waiting(): number } {
  let gate = deferred();
  let waiting = 0;
  return {
    ...store,
    async get(key, range, opts) {
      waiting++;
      await gate.promise;
      waiting--;
      return store.get(key, range, opts);
    },
    release() { gate.resolve(); gate = deferred(); },
    waiting: () => waiting,
  };
}

describe('read cache', () => {
  let dir: string;
  let store: FaultyStore;
  let cache: ReadCache | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfs-readcache-'));
    store = withFaults(openLocalStore(dir));
  });
  afterEach(async () => {
    await cache?.close();
    cache = undefined;
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function object(objectId: number, sizeBytes: number): Promise<{ obj: ObjectChecksums; data: Buffer }> {
    const data = randomBytes(sizeBytes);
    await store.put(objectKey(objectId), data);
    return { obj: checksums(objectId, data), data };
  }

  it('counts misses then hits and fetches each line once', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 10, log: quietLog });
    const { obj, data } = await object(1, 3 * LINE);
    assert.deepEqual(await cache.read(obj, 100, 200), data.subarray(100, 300));
    assert.deepEqual(await cache.read(obj, 300, 1000), data.subarray(300, 1300));
    assert.equal(store.calls.get, 1);
    const st = cache.stats();
    assert.deepEqual([st.hits, st.misses, st.lines, st.bytesFetched], [1, 1, 1, LINE]);
  });

  it('assembles ranges spanning lines and clips at the object end', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 10, log: quietLog });
    const size = 2 * LINE + 1500; // last line short, last block short
    const { obj, data } = await object(2, size);
    assert.deepEqual(await cache.read(obj, LINE - 10, LINE + 20), data.subarray(LINE - 10, 2 * LINE + 10));
    assert.deepEqual(await cache.read(obj, 0, 10 * LINE), data);
    assert.deepEqual(await cache.read(obj, size - 5, 100), data.subarray(size - 5));
    assert.equal((await cache.read(obj, size, 10)).length, 0);
    assert.equal((await cache.read(obj, size + 100, 10)).length, 0);
    assert.equal((await cache.read(obj, 5, 0)).length, 0);
    assert.equal(store.calls.get, 3);
    assert.equal(cache.stats().bytesFetched, size);
  });

  it('evicts the least recently used line', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 2, log: quietLog });
    const { obj } = await object(3, 3 * LINE);
    await cache.read(obj, 0, 1);          // line 0
    await cache.read(obj, LINE, 1);       // line 1
    await cache.read(obj, 0, 1);          // hit: line 0 becomes most recent
    await cache.read(obj, 2 * LINE, 1);   // line 2 evicts line 1
    assert.equal(store.calls.get, 3);
    await cache.read(obj, 0, 1);          // still cached
    assert.equal(store.calls.get, 3);
    await cache.read(obj, LINE, 1);       // was evicted
    assert.equal(store.calls.get, 4);
    assert.equal(cache.stats().lines, 2);
  });

  it('keys lines by object: equal line indexes of two objects are distinct', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const a = await object(4, LINE);
    const b = await object(5, LINE);
    assert.deepEqual(await cache.read(a.obj, 0, LINE), a.data);
    assert.deepEqual(await cache.read(b.obj, 0, LINE), b.data);
    assert.equal(store.calls.get, 2);
  });

  it('makes one GET for concurrent misses on one line', async () => {
    const g = gated(store);
    cache = createReadCache({ store: g, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const { obj, data } = await object(6, 2 * LINE);
    const reads = Array.from({ length: 20 }, (_, i) => cache!.read(obj, i * 10, 50));
    await new Promise((r) => setImmediate(r));
    assert.equal(g.waiting(), 1);
    g.release();
    const got = await Promise.all(reads);
    got.forEach((buf, i) => assert.deepEqual(buf, data.subarray(i * 10, i * 10 + 50)));
    assert.equal(store.calls.get, 1);
    assert.equal(cache.stats().misses, 20);
  });

  it('rejects a corrupt line with PFS_ERR_CHECKSUM, does not cache it, and retries', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const { obj, data } = await object(7, 2 * LINE);
    store.plan.corruptNextGets = 1;
    store.plan.corruptByteAt = 2 * BLOCK + 7;
    const both = [cache.read(obj, 0, 10), cache.read(obj, LINE - 10, 10)];
    for (const p of both) {
      await assert.rejects(p, (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PFS_ERR_CHECKSUM');
        assert.match(err.message, new RegExp(`object ${obj.key} \\(id 7\\).*block 2 `));
        return true;
      });
    }
    assert.equal(cache.stats().lines, 0);
    assert.equal(cache.stats().checksumErrors, 1);
    assert.deepEqual(await cache.read(obj, 0, 10), data.subarray(0, 10));
    assert.equal(store.calls.get, 2);
  });

  it('rejects bytes that do not match the recorded CRC32 list or size', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const { obj } = await object(8, LINE);
    const wrongCrc = { ...obj, crc32: obj.crc32.map((c, i) => (i === 3 ? (c ^ 1) >>> 0 : c)) };
    await assert.rejects(cache.read(wrongCrc, 0, 1), code('PFS_ERR_CHECKSUM'));
    const tooFew = { ...obj, crc32: obj.crc32.slice(0, 2) };
    await assert.rejects(cache.read(tooFew, 0, 1), code('PFS_ERR_CHECKSUM'));
    const longer = { ...checksums(8, Buffer.alloc(LINE + 10)), crc32: [...obj.crc32, 0] };
    await assert.rejects(cache.read(longer, LINE, 5), /shorter than its recorded/);
    assert.equal(cache.stats().lines, 0);
  });

  it('propagates a missing object and a failed GET to every waiter', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const ghost = checksums(9, Buffer.alloc(LINE));
    await assert.rejects(cache.read(ghost, 0, 10), code('PFS_ERR_OBJECT_MISSING'));
    const { obj, data } = await object(10, LINE);
    store.plan.failNext = { get: 1 };
    const rs = [cache.read(obj, 0, 1), cache.read(obj, 1, 1)];
    for (const p of rs) await assert.rejects(p, code('PFS_ERR_OBJECT_STORE'));
    assert.deepEqual(await cache.read(obj, 0, 2), data.subarray(0, 2));
  });

  it('refuses a line size that is not a multiple of the checksum block size', async () => {
    cache = createReadCache({ store, lineSizeBytes: LINE, lineCount: 4, log: quietLog });
    const data = randomBytes(LINE);
    await store.put(objectKey(11), data);
    await assert.rejects(cache.read(checksums(11, data, 3000), 0, 1), code('PFS_ERR_CONFIG'));
    assert.throws(() => createReadCache({ store, lineSizeBytes: 0, lineCount: 4, log: quietLog }), code('PFS_ERR_CONFIG'));
    assert.deepEqual(await cache.read(checksums(11, data, LINE), 0, LINE), data); // one block per line is fine
  });

  it('prefetches silently, with bounded concurrency, and reads join prefetches', async () => {
    const g = gated(store);
    cache = createReadCache({ store: g, lineSizeBytes: LINE, lineCount: 100, log: quietLog, prefetchConcurrency: 8 });
    const { obj, data } = await object(12, 20 * LINE);
    cache.prefetch(obj, 0, 20 * LINE);
    cache.prefetch(obj, 0, 20 * LINE); // all in flight or dropped: no more GETs
    await new Promise((r) => setImmediate(r));
    assert.equal(g.waiting(), 8);
    const joined = cache.read(obj, 3 * LINE, 10);
    g.release();
    assert.deepEqual(await joined, data.subarray(3 * LINE, 3 * LINE + 10));
    await new Promise((r) => setTimeout(r, 20));
    let st = cache.stats();
    assert.deepEqual([st.prefetches, st.prefetchesDropped, st.lines, store.calls.get], [8, 24, 8, 8]);
    const ghost = checksums(13, Buffer.alloc(LINE));
    cache.prefetch(ghost, 0, LINE); // missing object: swallowed
    cache.prefetch(checksums(12, data, 3000), 0, LINE); // bad geometry: swallowed
    g.release();
    await new Promise((r) => setTimeout(r, 20));
    st = cache.stats();
    assert.equal(st.prefetchErrors, 2);
    const before = store.calls.get;
    assert.deepEqual(await cache.read(obj, 0, 8 * LINE), data.subarray(0, 8 * LINE)); // prefetched lines are hits
    assert.equal(store.calls.get, before);
  });
});
