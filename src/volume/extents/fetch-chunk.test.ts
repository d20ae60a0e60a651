import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Extent } from '../../common/protocol/index.js';
import { objectKey } from '../../common/protocol/index.js';
import { allExtents, fixture, report, write, type Fixture } from './test-helpers.js';

describe('fetchChunk', () => {
  let f: Fixture;
  let ids: number[];
  // A[10,20) B[30,40) C[40,50) D[70,80): B and C touch but are in different objects.
  beforeEach(() => {
    f = fixture();
    ids = [[10, 10], [30, 10], [40, 10], [70, 10]].map(([fo, len]) => write(f, 5, 100, [[fo!, len!, 0]]));
  });
  afterEach(() => f.md.close());

  const span = (fo: number, size: number, from: number, before: number) => {
    const c = f.maps.fetchChunk(5, size, fo, from, before);
    return { start: c.rangeStart, end: c.rangeEnd, ext: c.extents.map((e) => [e.fileOffset, e.length]) };
  };

  it('returns maxEntriesFrom extents from the first one at or after the offset', () => {
    assert.deepEqual(span(0, 100, 2, 0), { start: 0, end: 40, ext: [[10, 10], [30, 10]] });
    assert.deepEqual(span(15, 100, 1, 0), { start: 0, end: 30, ext: [[10, 10]] });
    assert.deepEqual(span(30, 100, 10, 0), { start: 20, end: 100, ext: [[30, 10], [40, 10], [70, 10]] });
  });

  it('an offset in a hole anchors at the next extent; before counts back from it', () => {
    assert.deepEqual(span(25, 100, 1, 1), { start: 0, end: 40, ext: [[10, 10], [30, 10]] });
    assert.deepEqual(span(45, 100, 1, 1), { start: 20, end: 70, ext: [[30, 10], [40, 10]] });
    assert.deepEqual(span(60, 100, 1, 0), { start: 50, end: 100, ext: [[70, 10]] });
  });

  it('past the last extent: no entries from it, the tail hole up to size', () => {
    assert.deepEqual(span(85, 100, 5, 0), { start: 80, end: 100, ext: [] });
    assert.deepEqual(span(85, 100, 5, 2), { start: 40, end: 100, ext: [[40, 10], [70, 10]] });
    assert.deepEqual(span(500, 100, 5, 0), { start: 80, end: 100, ext: [] });
  });

  it('clips extents to size and ignores extents at or past it', () => {
    assert.deepEqual(span(72, 75, 5, 0), { start: 50, end: 75, ext: [[70, 5]] });
    assert.deepEqual(span(60, 70, 3, 0), { start: 50, end: 70, ext: [] });
    assert.deepEqual(span(0, 35, 10, 0), { start: 0, end: 35, ext: [[10, 10], [30, 5]] });
    assert.deepEqual(span(37, 35, 10, 0), { start: 35, end: 35, ext: [] });
    assert.deepEqual(span(37, 35, 10, 1), { start: 20, end: 35, ext: [[30, 5]] });
  });

  it('an empty map is one hole [0, size)', () => {
    assert.deepEqual(f.maps.fetchChunk(6, 1234, 0, 32, 0), { rangeStart: 0, rangeEnd: 1234, size: 1234, extents: [], objects: [] });
    assert.deepEqual(f.maps.fetchChunk(6, 0, 0, 32, 4), { rangeStart: 0, rangeEnd: 0, size: 0, extents: [], objects: [] });
  });

  it('lists the checksums of every object referenced, once', () => {
    write(f, 5, 100, [[0, 5, 50], [90, 5, 60]]);
    const c = f.maps.fetchChunk(5, 100, 0, 100, 0);
    assert.equal(c.extents.length, 6);
    assert.deepEqual(c.objects.map((o) => o.objectId).sort((a, b) => a - b), [...ids, ids[3]! + 1]);
    for (const o of c.objects) assert.deepEqual(o, { ...report(o.objectId, 100), key: objectKey(o.objectId) });
  });

  it('rejects negative or fractional arguments with EINVAL', () => {
    assert.throws(() => f.maps.fetchChunk(5, 100, -1, 1, 0), { code: 'EINVAL' });
    assert.throws(() => f.maps.fetchChunk(5, 100, 0, 1.5, 0), { code: 'EINVAL' });
  });
});

it('fetchChunk windows agree with the whole map (property)', () => {
  const gaps = fc.array(fc.record({ gap: fc.nat(20), length: fc.integer({ min: 1, max: 20 }) }), { maxLength: 12 });
  const offset = fc.record({ nearSize: fc.boolean(), abs: fc.nat(300), rel: fc.integer({ min: -15, max: 15 }) });
  fc.assert(fc.property(gaps, fc.nat(300), offset, fc.nat(6), fc.nat(6), (layout, sizeArg, off, from, before) => {
    const f = fixture();
    try {
      let at = 0;
      for (const { gap, length } of layout) {
        write(f, 1, length, [[at + gap, length, 0]]); // one object per extent: no merging
        at += gap + length;
      }
      const size = Math.min(sizeArg, at + 10);
      const fileOffset = off.nearSize ? Math.max(0, size + off.rel) : off.abs;
      const whole: Extent[] = allExtents(f, 1).filter((e) => e.fileOffset < size).map((e) => ({ ...e, length: Math.min(e.length, size - e.fileOffset) }));
      const c = f.maps.fetchChunk(1, size, fileOffset, from, before);
      let anchor = whole.findIndex((e) => e.fileOffset + e.length > fileOffset);
      if (anchor < 0) anchor = whole.length;
      const first = Math.max(0, anchor - before);
      const last = Math.min(whole.length, anchor + from); // exclusive
      assert.deepEqual(c.extents, whole.slice(first, last));
      assert.equal(c.rangeStart, first > 0 ? whole[first - 1]!.fileOffset + whole[first - 1]!.length : 0);
      assert.equal(c.rangeEnd, last < whole.length ? whole[last]!.fileOffset : size);
      assert.ok(c.rangeStart <= c.rangeEnd && c.rangeEnd <= size);
    } finally {
      f.md.close();
    }
  }), { numRuns: 300 });
});
