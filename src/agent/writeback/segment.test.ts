import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { blockCrc32s } from '../../common/checksum/index.js';
import { ChunkPool, freshChunks } from './chunk-pool.js';
import { resolveExtents, Segment } from './segment.js';

const T = { sec: 1, nsec: 0 };

describe('resolveExtents', () => {
  it('merges sequential pieces and lets later pieces win', () => {
    assert.deepEqual(resolveExtents([
      { fileOffset: 0, objectOffset: 0, length: 10 },
      { fileOffset: 10, objectOffset: 10, length: 10 },
    ]), [{ fileOffset: 0, objectOffset: 0, length: 20 }]);
    assert.deepEqual(resolveExtents([
      { fileOffset: 0, objectOffset: 0, length: 100 },
      { fileOffset: 40, objectOffset: 100, length: 10 },   // inside
      { fileOffset: 90, objectOffset: 110, length: 20 },   // over the end
      { fileOffset: 200, objectOffset: 130, length: 5 },   // past a gap
      { fileOffset: 150, objectOffset: 135, length: 5 },   // in the gap
    ]), [
      { fileOffset: 0, objectOffset: 0, length: 40 },
      { fileOffset: 40, objectOffset: 100, length: 10 },
      { fileOffset: 50, objectOffset: 50, length: 40 },
      { fileOffset: 90, objectOffset: 110, length: 20 },
      { fileOffset: 150, objectOffset: 135, length: 5 },
      { fileOffset: 200, objectOffset: 130, length: 5 },
    ]);
  });

  it('matches a byte-by-byte model for random pieces', () => {
    const piece = fc.record({ fileOffset: fc.nat(300), length: fc.integer({ min: 1, max: 80 }) });
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), (ps) => {
      let obj = 0;
      const pieces = ps.map((p) => { const r = { ...p, objectOffset: obj }; obj += p.length; return r; });
      const owner = new Map<number, number>(); // file byte -> object byte
      for (const p of pieces) for (let i = 0; i < p.length; i++) owner.set(p.fileOffset + i, p.objectOffset + i);
      const got = new Map<number, number>();
      let prevEnd = -1;
      for (const e of resolveExtents(pieces)) {
        assert.ok(e.length > 0 && e.fileOffset >= prevEnd);
        prevEnd = e.fileOffset + e.length;
        for (let i = 0; i < e.length; i++) got.set(e.fileOffset + i, e.objectOffset + i);
      }
      assert.deepEqual([...got].sort((a, b) => a[0] - b[0]), [...owner].sort((a, b) => a[0] - b[0]));
    }), { numRuns: 300 });
  });
});

describe('Segment', () => {
  it('keeps piece views unchanged while appending and after sealing', () => {
    const seg = new Segment(7, 300_000, { pool: freshChunks(65_536) });
    seg.append(0, Buffer.alloc(70_000, 1), T);          // spans the first 64 KiB chunk
    const snap = seg.pieces.map((p) => Buffer.from(p.data));
    const views = seg.pieces.map((p) => p.data);
    seg.append(0, Buffer.alloc(70_000, 2), T);
    assert.deepEqual(views, snap);
    assert.equal(seg.pieces.length, 4);                  // 64 KiB | 4464 B in chunk 2 | 61072 B in chunk 2 (not contiguous in the file) | 8928 B in chunk 3
    const body = Buffer.concat(seg.seal());
    assert.equal(body.length, 140_000);
    assert.deepEqual(views, snap);
    assert.ok(body.subarray(0, 70_000).every((b) => b === 1) && body.subarray(70_000).every((b) => b === 2));
    assert.deepEqual(seg.extents(9), [{ fileOffset: 0, objectOffset: 70_000, length: 70_000, objectId: 9 }]);
    assert.throws(() => seg.append(0, Buffer.alloc(1), T));
  });

  it('extends the last piece on sequential writes within a chunk', () => {
    const seg = new Segment(7, 1 << 20);
    for (let i = 0; i < 100; i++) seg.append(i * 100, Buffer.alloc(100, i), T);
    assert.equal(seg.pieces.length, 1);
    assert.equal(seg.pieces[0]!.data.length, 10_000);
    assert.equal(seg.endOffset, 10_000);
    assert.throws(() => seg.append(0, Buffer.alloc(seg.roomBytes + 1), T), RangeError);
  });

  it('computes the block CRC32s of its body as bytes go in, whatever the chunk and block sizes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(1000, 4096, 65_536), fc.constantFrom(700, 4096, 10_000), fc.array(fc.record({ off: fc.nat(50_000), len: fc.integer({ min: 1, max: 9000 }) }), { maxLength: 20 }),
      async (block, chunk, writes) => {
        const seg = new Segment(7, 60_000, { pool: freshChunks(chunk), checksumBlockSizeBytes: block });
        for (const [i, wr] of writes.entries()) {
          const n = Math.min(wr.len, seg.roomBytes);
          if (n === 0) break;
          seg.append(wr.off, Buffer.alloc(n, i + 1), T);
        }
        const body = Buffer.concat(seg.seal());
        assert.deepEqual(await seg.crc32s(block), blockCrc32s(body, block));
        assert.deepEqual(await seg.crc32s(block * 2), blockCrc32s(body, block * 2)); // another block size: computed from the body
      },
    ), { numRuns: 200 });
  });

  it('hashes after the append (setImmediate) the same bytes, whether or not the hashing ran between appends', async () => {
    const writes = [[0, 5000], [5000, 70_000], [200, 300], [75_000, 1]] as const;
    for (const settle of [false, true]) {
      const seg = new Segment(7, 200_000, { pool: freshChunks(65_536), checksumBlockSizeBytes: 4096 });
      for (const [i, [off, len]] of writes.entries()) {
        seg.append(off, Buffer.alloc(len, i + 1), T);
        if (settle) await new Promise((ok) => setImmediate(ok));
      }
      const body = Buffer.concat(seg.seal());
      assert.deepEqual(await seg.crc32s(4096), blockCrc32s(body, 4096), `settle ${settle}`);
    }
    // Released before its hashing ran: nothing is hashed from chunks given back.
    const pool = new ChunkPool(4096, 10);
    const seg = new Segment(7, 10_000, { pool, checksumBlockSizeBytes: 4096 });
    seg.append(0, Buffer.alloc(9000, 1), T);
    seg.release(pool);
    await new Promise((ok) => setImmediate(ok));
  });

  it('gives its chunks back once released and is not used again', async () => {
    const pool = new ChunkPool(4096, 10);
    const seg = new Segment(7, 10_000, { pool, checksumBlockSizeBytes: 4096 });
    seg.append(0, Buffer.alloc(9000, 1), T);
    assert.deepEqual(seg.seal().map((b) => b.length), [4096, 4096, 808]);
    assert.deepEqual(await seg.crc32s(4096), [crc32(Buffer.alloc(4096, 1)), crc32(Buffer.alloc(4096, 1)), crc32(Buffer.alloc(808, 1))]);
    seg.release(pool);
    assert.equal(pool.keptChunks, 3);
    assert.throws(() => seg.seal());
    const next = new Segment(8, 10_000, { pool });
    next.append(0, Buffer.alloc(5000, 2), T);
    assert.equal(pool.keptChunks, 1, 'the second segment filled two of the kept chunks');
  });
});

describe('ChunkPool', () => {
  it('allocates only when nothing is kept, keeps at most keepChunks, and empties on clear', () => {
    const pool = new ChunkPool(1024, 2);
    const a = pool.take();
    const b = pool.take();
    const c = pool.take();
    assert.equal(a.length, 1024);
    pool.give([a, b, c]);
    assert.equal(pool.keptChunks, 2);
    assert.equal(pool.take(), b, 'the most recently given back first');
    assert.throws(() => pool.give([Buffer.alloc(10)]), RangeError);
    pool.clear();
    assert.equal(pool.keptChunks, 0);
  });
});
