import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { objectKey, UNSTORED_OBJECT_ID, type Extent } from '../../common/protocol/index.js';
import { CHECKSUM_BLOCK_SIZE_BYTES } from './index.js';
import { allExtents, fixture, objectState, report, write, type Fixture } from './test-helpers.js';
import { MAX_PROVISIONED_PER_MOUNT } from './objects.js';

let f: Fixture;
beforeEach(() => { f = fixture(); });
afterEach(() => f.md.close());

const ext = (objectId: number, fileOffset: number, length: number, objectOffset = 0): Extent => ({ fileOffset, length, objectId, objectOffset });
const wrote = (ino: number, o: ReturnType<typeof report>, extents: Extent[]) => f.md.transaction(() => f.maps.wrote(ino, o, extents));

describe('provision', () => {
  it('hands out unique, consecutive ids with their keys, in state provisioned', () => {
    const a = f.maps.provision(3);
    const b = f.maps.provision(2);
    const ids = [...a, ...b].map((o) => o.objectId);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual(ids, [ids[0]!, ids[0]! + 1, ids[0]! + 2, ids[0]! + 3, ids[0]! + 4]);
    for (const o of [...a, ...b]) {
      assert.equal(o.key, objectKey(o.objectId));
      assert.equal(objectState(f, o.objectId)?.state, 'provisioned');
    }
  });

  it('rejects counts outside 1..64', () => {
    for (const n of [0, -1, 1.5, 65, 1024]) assert.throws(() => f.maps.provision(n), { code: 'EINVAL' });
  });

  it('a mount holds at most MAX_PROVISIONED_PER_MOUNT unreported numbers: its oldest are disowned', () => {
    const first = f.maps.provision(1, 'm1')[0]!.objectId;
    for (let i = 0; i < MAX_PROVISIONED_PER_MOUNT / 64; i++) f.maps.provision(64, 'm1');
    const owner = (id: number) => (f.md.db.prepare('SELECT mount_id AS m FROM objects WHERE object_id = ?').get(id) as { m: string | null }).m;
    assert.equal(owner(first), null, 'the oldest lost its owner');
    assert.equal(owner(first + 1), 'm1');
  });
});

describe('wrote validation', () => {
  let id: number;
  beforeEach(() => { id = f.maps.provision(1)[0]!.objectId; });

  it('rejects malformed reports with EINVAL and changes nothing', () => {
    const cases: [ReturnType<typeof report>, Extent[]][] = [
      [{ ...report(id, 100), blockSizeBytes: 4096 }, [ext(id, 0, 10)]],
      [{ ...report(id, 100), crc32: [] }, [ext(id, 0, 10)]],
      [{ ...report(id, 100), crc32: [1, 2] }, [ext(id, 0, 10)]],
      [{ ...report(id, 100), crc32: [2 ** 32] }, [ext(id, 0, 10)]],
      [report(id, 100), [ext(id + 1, 0, 10)]],
      [report(id, 100), [ext(id, 0, 10, 91)]],
      [report(id, 100), [ext(id, 0, 0)]],
      [report(id, 100), [ext(id, -1, 10)]],
      [report(id, 100), [ext(id, 0, 10), ext(id, 5, 10, 50)]],
    ];
    for (const [o, e] of cases) assert.throws(() => wrote(1, o, e), { code: 'EINVAL' }, JSON.stringify([o, e]));
    assert.equal(objectState(f, id)?.state, 'provisioned');
    assert.deepEqual(allExtents(f, 1), []);
  });

  it('accepts a multi-block object with one CRC per block', () => {
    const size = 2 * CHECKSUM_BLOCK_SIZE_BYTES + 1;
    assert.equal(wrote(1, report(id, size), [ext(id, 0, size)]), size);
    assert.equal(f.maps.objectChecksums(id)?.crc32.length, 3);
  });

  it('refuses objects never provisioned, or dead, with PFS_ERR_STALE_OBJECT', () => {
    assert.throws(() => wrote(1, report(id + 100, 10), [ext(id + 100, 0, 10)]), { code: 'PFS_ERR_STALE_OBJECT' });
    wrote(1, report(id, 10), [ext(id, 0, 10)]);
    write(f, 1, 10, [[0, 10, 0]]); // overwrites all of id: dead
    assert.equal(objectState(f, id)?.state, 'dead');
    assert.throws(() => wrote(2, report(id, 10), [ext(id, 0, 10)]), { code: 'PFS_ERR_STALE_OBJECT' });
  });

  it('a second report of the same object must agree with the first', () => {
    wrote(1, report(id, 100), [ext(id, 0, 50)]);
    assert.throws(() => wrote(2, report(id, 101), [ext(id, 0, 50, 50)]), { code: 'EINVAL' });
    assert.throws(() => wrote(2, report(id, 100, 99), [ext(id, 0, 50, 50)]), { code: 'EINVAL' });
    assert.equal(wrote(2, report(id, 100), [ext(id, 0, 50, 50)]), 50);
    assert.equal(objectState(f, id)?.liveBytes, 100);
  });
});

describe('live bytes and object life', () => {
  it('splitting keeps head and tail pointing into the old object', () => {
    const a = write(f, 1, 100, [[0, 100, 0]]);
    const b = write(f, 1, 10, [[40, 10, 0]]);
    assert.deepEqual(allExtents(f, 1), [ext(a, 0, 40, 0), ext(b, 40, 10, 0), ext(a, 50, 50, 50)]);
    assert.equal(objectState(f, a)?.liveBytes, 90);
    assert.equal(f.maps.usedBytes(), 100);
  });

  it('merges an extent that continues its neighbour in the same object', () => {
    const id = f.maps.provision(1)[0]!.objectId;
    wrote(1, report(id, 30), [ext(id, 0, 10, 0)]);
    wrote(1, report(id, 30), [ext(id, 20, 10, 20)]);
    wrote(1, report(id, 30), [ext(id, 10, 10, 10)]);
    assert.deepEqual(allExtents(f, 1), [ext(id, 0, 30, 0)]);
  });

  it('an object dies when its last byte is overwritten or truncated away, at the current time', () => {
    const a = write(f, 1, 100, [[0, 100, 0]]);
    f.clock.ns += 5_000n;
    f.md.transaction(() => f.maps.truncate(1, 100, 30));
    assert.deepEqual(allExtents(f, 1), [ext(a, 0, 30)]);
    assert.equal(objectState(f, a)?.liveBytes, 30);
    assert.equal(f.deaths.count, 0);
    f.md.transaction(() => f.maps.truncate(1, 30, 0));
    assert.deepEqual(objectState(f, a), { state: 'dead', liveBytes: 0, deadSinceNs: f.clock.ns });
    assert.equal(f.deaths.count, 1);
    assert.equal(f.maps.usedBytes(), 0);
  });

  it('drop removes every extent of one inode only', () => {
    const a = write(f, 1, 100, [[0, 50, 0]]);
    write(f, 2, 100, [[0, 50, 50]]);
    assert.equal(objectState(f, a)?.liveBytes, 50);
    f.md.transaction(() => f.maps.drop(1));
    assert.deepEqual(allExtents(f, 1), []);
    assert.equal(allExtents(f, 2).length, 1);
    assert.equal(f.maps.usedBytes(), 50);
  });

  it('deadObjects honours the age; forgetObjects forgets only dead rows', () => {
    const a = write(f, 1, 10, [[0, 10, 0]]);
    const diedAt = f.clock.ns;
    write(f, 1, 10, [[0, 10, 0]]);
    const live = f.maps.provision(1)[0]!.objectId;
    assert.deepEqual(f.maps.deadObjects(diedAt - 1n, 10), []);
    assert.deepEqual(f.maps.deadObjects(diedAt, 10), [{ objectId: a, key: objectKey(a) }]);
    f.md.transaction(() => f.maps.forgetObjects([a, live]));
    assert.equal(objectState(f, a), undefined);
    assert.equal(objectState(f, live)?.state, 'provisioned');
  });

  it('expiredProvisioned makes old unused objects dead so a late Wrote is refused', () => {
    const old = f.maps.provision(1)[0]!.objectId;
    const createdAt = f.clock.ns;
    f.clock.ns += 1_000n;
    const young = f.maps.provision(1)[0]!.objectId;
    const used = f.maps.provision(1)[0]!.objectId;
    wrote(1, report(used, 10), [ext(used, 0, 10)]);
    assert.deepEqual(f.md.transaction(() => f.maps.expiredProvisioned(createdAt + 500n, 10)), [{ objectId: old, key: objectKey(old) }]);
    assert.equal(objectState(f, old)?.state, 'dead');
    assert.equal(objectState(f, young)?.state, 'provisioned');
    assert.throws(() => wrote(1, report(old, 10), [ext(old, 0, 10)]), { code: 'PFS_ERR_STALE_OBJECT' });
  });

  it('compactionCandidates lists live objects below the ratio, emptiest first', () => {
    const a = write(f, 1, 100, [[0, 100, 0]]);
    const b = write(f, 2, 100, [[0, 100, 0]]);
    write(f, 1, 80, [[0, 80, 0]]); // a: 20% live
    write(f, 2, 40, [[0, 40, 0]]); // b: 60% live
    assert.deepEqual(f.maps.compactionCandidates(0.5, 10).map((c) => [c.objectId, c.liveBytes, c.sizeBytes]), [[a, 20, 100]]);
    assert.deepEqual(f.maps.compactionCandidates(0.7, 10).map((c) => c.objectId), [a, b]);
    assert.deepEqual(f.maps.compactionCandidates(0.7, 1).map((c) => c.objectId), [a]);
  });
});

describe('repoint', () => {
  it('moves the pieces still in place, including parts of split extents, and kills the old object', () => {
    const a = write(f, 1, 100, [[0, 30, 0], [50, 30, 50]]);
    const live = f.maps.liveExtentsOf(a);
    assert.deepEqual(live.map((e) => [e.ino, e.fileOffset, e.objectOffset]), [[1, 0, 0], [1, 50, 50]]);
    write(f, 1, 10, [[10, 10, 0]]); // concurrent overwrite of the middle of the first piece
    const n = f.maps.provision(1)[0]!.objectId;
    const moved = [
      { ino: 1, fileOffset: 0, length: 30, oldObjectOffset: 0, newObjectOffset: 0 },
      { ino: 1, fileOffset: 50, length: 30, oldObjectOffset: 50, newObjectOffset: 30 },
    ];
    assert.equal(f.md.transaction(() => f.maps.repoint(a, moved, report(n, 60))), 3);
    const b = allExtents(f, 1)[1]!.objectId;
    assert.deepEqual(allExtents(f, 1), [ext(n, 0, 10, 0), ext(b, 10, 10, 0), ext(n, 20, 10, 20), ext(n, 50, 30, 30)]);
    assert.equal(objectState(f, a)?.state, 'dead');
    assert.equal(objectState(f, n)?.liveBytes, 50);
  });

  it('ignores stale pieces; the new object stays provisioned when nothing moved', () => {
    const a = write(f, 1, 100, [[0, 30, 0]]);
    const n = f.maps.provision(1)[0]!.objectId;
    const stale = [{ ino: 1, fileOffset: 0, length: 30, oldObjectOffset: 5, newObjectOffset: 0 }, { ino: 2, fileOffset: 0, length: 30, oldObjectOffset: 0, newObjectOffset: 0 }];
    assert.equal(f.md.transaction(() => f.maps.repoint(a, stale, report(n, 30))), 0);
    assert.equal(objectState(f, n)?.state, 'provisioned');
    assert.equal(objectState(f, a)?.liveBytes, 30);
  });
});

describe('unstored ranges (failed write-backs)', () => {
  const U = UNSTORED_OBJECT_ID;
  it('replace what was there, merge, take no live or used bytes, and are punched by later writes', () => {
    const a = write(f, 5, 100, [[0, 100, 0]]);
    f.md.transaction(() => f.maps.unstored(5, [{ fileOffset: 10, length: 20 }, { fileOffset: 30, length: 10 }]));
    assert.deepEqual(allExtents(f, 5), [
      { fileOffset: 0, length: 10, objectId: a, objectOffset: 0 },
      { fileOffset: 10, length: 30, objectId: U, objectOffset: 10 },
      { fileOffset: 40, length: 60, objectId: a, objectOffset: 40 },
    ]);
    assert.equal(objectState(f, a)!.liveBytes, 70);
    assert.equal(f.maps.usedBytes(), 70);
    assert.equal(f.maps.unstoredBytes(), 30);
    const b = write(f, 5, 15, [[20, 15, 0]]);
    assert.deepEqual(allExtents(f, 5).map((e) => [e.fileOffset, e.length, e.objectId]), [[0, 10, a], [10, 10, U], [20, 15, b], [35, 5, U], [40, 60, a]]);
    assert.equal(f.maps.unstoredBytes(), 15);
    const audit = f.maps.audit();
    assert.deepEqual(audit.problems, []);
    assert.equal(audit.unstoredBytes, 15);
    assert.equal(audit.usedBytes, 85);
  });

  it('may lie past the size; growing the file by truncate trims them at the old size (zeros there)', () => {
    f.md.transaction(() => f.maps.unstored(6, [{ fileOffset: 100, length: 50 }]));
    const chunk = f.maps.fetchChunk(6, 120, 0, 100, 0);
    assert.deepEqual(chunk.extents, [{ fileOffset: 100, length: 20, objectId: U, objectOffset: 100 }]);
    assert.deepEqual(chunk.objects, []);
    f.md.transaction(() => f.maps.truncate(6, 80, 200));
    assert.deepEqual(allExtents(f, 6), []);
    assert.equal(f.maps.unstoredBytes(), 0);
  });

  it('rejects malformed ranges with EINVAL', () => {
    for (const ranges of [[{ fileOffset: -1, length: 1 }], [{ fileOffset: 0, length: 0 }], [{ fileOffset: 0, length: 10 }, { fileOffset: 5, length: 10 }]]) {
      assert.throws(() => f.maps.unstored(7, ranges), (e: unknown) => (e as { code?: string }).code === 'EINVAL');
    }
  });
});
