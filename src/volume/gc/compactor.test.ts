import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { withFaults, type ObjectStore } from '../../common/objectstore/index.js';
import { objectKey } from '../../common/protocol/index.js';
import { fsckData, startGc, type Gc } from './index.js';
import { objectRow, readFile, storeKeys, volume, writeObject, type Vol } from './test-fixtures.js';

const MS = 1_000_000n;
const SIZE1 = 200_000; // four CRC blocks, the last one short
const SIZE2 = 50_000;

describe('gc compaction', () => {
  let v: Vol;
  let gc: Gc | undefined;
  let a: number; // file 1: 20,500 live bytes of 200,000, in three unaligned islands
  let c: number; // file 2: 10,000 live bytes of 50,000
  beforeEach(async () => {
    v = await volume();
    a = await writeObject(v, 1, randomBytes(SIZE1), [[0, SIZE1, 0]]);
    await writeObject(v, 1, randomBytes(SIZE1), [[0, 1000, 0], [11_000, 59_000, 11_000], [70_500, 79_501, 70_500], [160_001, 39_999, 160_001]]);
    c = await writeObject(v, 2, randomBytes(SIZE2), [[0, SIZE2, 0]]);
    await writeObject(v, 2, randomBytes(40_000), [[5000, 40_000, 0]]);
  });
  afterEach(async () => { await gc?.close(); gc = undefined; await v.cleanup(); });

  it('moves live pieces into one new object; reads stay byte-for-byte identical', async () => {
    gc = startGc(v.gcOptions({ deadObjectDeleteDelayMs: 1000 }));
    const before = [await readFile(v, 1, SIZE1), await readFile(v, 2, SIZE2)];
    assert.deepEqual(v.extents.compactionCandidates(0.5, 10).map((x) => x.objectId), [a, c]);
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 2, expired: 0 });
    assert.equal(objectRow(v, a)?.state, 'dead');
    assert.equal(objectRow(v, c)?.state, 'dead');
    assert.deepEqual([await readFile(v, 1, SIZE1), await readFile(v, 2, SIZE2)], before);
    assert.deepEqual(v.extents.compactionCandidates(0.5, 10), []);
    const moved = v.extents.liveExtentsOf(a);
    assert.deepEqual(moved, []);

    v.clock.ns += 1000n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 2, compacted: 0, expired: 0 });
    const keys = await storeKeys(v);
    assert.ok(!keys.includes(objectKey(a)) && !keys.includes(objectKey(c)));
    assert.deepEqual([await readFile(v, 1, SIZE1), await readFile(v, 2, SIZE2)], before);
    const fsck = await fsckData(v.md, v.extents, v.store, { verifyChecksums: true });
    assert.deepEqual(fsck.problems, []);
    assert.equal(gc.stats().compactedBytes, 30_500);
  });

  it('skips an object whose bytes fail their CRC32, and leaves it in place', async () => {
    const faulty = withFaults(v.store, { corruptNextGets: 1 });
    gc = startGc(v.gcOptions({ store: faulty, compactionMaxBytesPerRun: 1 }));
    const before = await readFile(v, 1, SIZE1);
    assert.equal((await gc.runOnce()).compacted, 0);
    assert.equal(gc.stats().checksumErrors, 1);
    assert.ok(v.log.lines.some((l) => l.level === 'error'));
    assert.equal(objectRow(v, a)?.state, 'live');
    assert.deepEqual(await readFile(v, 1, SIZE1), before);
    assert.equal((await gc.runOnce()).compacted, 1);
    assert.deepEqual(await readFile(v, 1, SIZE1), before);
  });

  it('does not repoint bytes a Wrote changed while it was copying', async () => {
    const expected = await readFile(v, 1, SIZE1);
    const fresh = randomBytes(1000);
    fresh.copy(expected, 2000);
    let once = true;
    const racing: ObjectStore = {
      ...v.store,
      get: async (key, range, opts) => {
        const data = await v.store.get(key, range, opts);
        if (once) {
          once = false;
          await writeObject(v, 1, fresh, [[2000, 1000, 0]]); // overwrites the middle of a live island of a
        }
        return data;
      },
    };
    gc = startGc(v.gcOptions({ store: racing, compactionMaxBytesPerRun: 1 }));
    assert.equal((await gc.runOnce()).compacted, 1);
    assert.equal(objectRow(v, a)?.state, 'dead');
    assert.deepEqual(await readFile(v, 1, SIZE1), expected);
    assert.deepEqual((await fsckData(v.md, v.extents, v.store, { verifyChecksums: true })).problems, []);
  });

  it('copies at most compactionMaxBytesPerRun live bytes per run (but at least one object)', async () => {
    gc = startGc(v.gcOptions({ compactionMaxBytesPerRun: 15_000 }));
    assert.equal((await gc.runOnce()).compacted, 1);
    assert.equal(objectRow(v, a)?.state, 'dead');
    assert.equal(objectRow(v, c)?.state, 'live');
    assert.equal((await gc.runOnce()).compacted, 1);
    assert.equal(objectRow(v, c)?.state, 'dead');
  });

  it('does nothing when compaction is off', async () => {
    gc = startGc(v.gcOptions({ compactionIntervalMs: 0 }));
    assert.equal((await gc.runOnce()).compacted, 0);
    assert.equal(objectRow(v, a)?.state, 'live');
  });
});
