/**
 * Model-based test of extent patching: random sequences of wrote / truncate / drop / repoint,
 * checked after every step against a byte-array model saying which (object, offset) each file
 * byte reads, plus the live-byte and used-bytes invariants.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { Extent } from '../../common/protocol/index.js';
import { allExtents, fixture, report, type Fixture } from './test-helpers.js';

type Cell = readonly [objectId: number, objectOffset: number] | undefined;
const INOS = [1, 2, 3];

const piece = fc.record({ fileOffset: fc.nat(150), length: fc.integer({ min: 1, max: 40 }), objectOffset: fc.nat(63) });
const cmd = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('write' as const), ino: fc.constantFrom(...INOS), size: fc.integer({ min: 1, max: 64 }), reuse: fc.option(fc.nat(), { freq: 3 }), pieces: fc.array(piece, { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), ino: fc.constantFrom(...INOS), size: fc.nat(200) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), ino: fc.constantFrom(...INOS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('repoint' as const), pick: fc.nat(), mask: fc.nat(), shift: fc.nat(5), stale: fc.boolean() }) },
);
type Cmd = typeof cmd extends fc.Arbitrary<infer T> ? T : never;

interface Model {
  files: Map<number, Cell[]>;
  objects: Map<number, number>; // objectId -> size of the reported object
}

function liveObjects(f: Fixture): number[] {
  return (f.md.db.prepare("SELECT object_id AS id FROM objects WHERE state = 'live' ORDER BY object_id").all() as { id: number }[]).map((r) => r.id);
}

function apply(f: Fixture, m: Model, c: Cmd): void {
  const file = (ino: number): Cell[] => m.files.get(ino) ?? (m.files.set(ino, []), m.files.get(ino)!);
  switch (c.op) {
    case 'write': {
      const live = liveObjects(f);
      let objectId: number;
      let size: number;
      if (c.reuse !== null && live.length > 0) {
        objectId = live[c.reuse % live.length]!;
        size = m.objects.get(objectId)!;
      } else {
        objectId = f.maps.provision(1)[0]!.objectId;
        size = c.size;
      }
      const kept: Extent[] = [];
      for (const p of c.pieces) {
        const objectOffset = p.objectOffset % size;
        const e = { fileOffset: p.fileOffset, length: Math.min(p.length, size - objectOffset), objectId, objectOffset };
        if (kept.every((k) => e.fileOffset + e.length <= k.fileOffset || k.fileOffset + k.length <= e.fileOffset)) kept.push(e);
      }
      const end = f.md.transaction(() => f.maps.wrote(c.ino, report(objectId, size, objectId), kept));
      assert.equal(end, Math.max(...kept.map((e) => e.fileOffset + e.length)));
      m.objects.set(objectId, size);
      const cells = file(c.ino);
      for (const e of kept) for (let i = 0; i < e.length; i++) cells[e.fileOffset + i] = [objectId, e.objectOffset + i];
      return;
    }
    case 'truncate': {
      const cells = file(c.ino);
      f.md.transaction(() => f.maps.truncate(c.ino, cells.length, c.size));
      cells.length = Math.min(cells.length, c.size);
      return;
    }
    case 'drop':
      f.md.transaction(() => f.maps.drop(c.ino));
      m.files.set(c.ino, []);
      return;
    case 'repoint': {
      const live = liveObjects(f);
      if (live.length === 0) return;
      const old = live[c.pick % live.length]!;
      const chosen = f.maps.liveExtentsOf(old).filter((_, i) => ((c.mask >> (i % 30)) & 1) === 1);
      let at = c.shift;
      const moved = chosen.map((e) => ({ ino: e.ino, fileOffset: e.fileOffset, length: e.length, oldObjectOffset: e.objectOffset + (c.stale ? 1 : 0), newObjectOffset: (at += e.length) - e.length }));
      const size = Math.max(at, 1);
      const target = f.maps.provision(1)[0]!.objectId;
      const n = f.md.transaction(() => f.maps.repoint(old, moved, report(target, size, target)));
      let expected = 0;
      for (const p of moved) {
        const cells = file(p.ino);
        let hit = false;
        for (let i = 0; i < p.length; i++) {
          const cell = cells[p.fileOffset + i];
          if (cell && cell[0] === old && cell[1] === p.oldObjectOffset + i) {
            cells[p.fileOffset + i] = [target, p.newObjectOffset + i];
            hit = true;
          }
        }
        if (hit) expected++;
      }
      assert.equal(n, expected);
      if (n > 0) m.objects.set(target, size);
      return;
    }
  }
}

function check(f: Fixture, m: Model): void {
  const refs = new Map<number, number>();
  let used = 0;
  for (const ino of INOS) {
    const cells = m.files.get(ino) ?? [];
    const got: Cell[] = [];
    let prevEnd = 0;
    for (const e of allExtents(f, ino)) {
      assert.ok(e.length > 0 && e.fileOffset >= prevEnd, `inode ${ino}: extents overlap or are out of order`);
      prevEnd = e.fileOffset + e.length;
      for (let i = 0; i < e.length; i++) got[e.fileOffset + i] = [e.objectId, e.objectOffset + i];
    }
    assert.deepEqual(Array.from({ length: Math.max(got.length, cells.length) }, (_, i) => got[i]), Array.from({ length: Math.max(got.length, cells.length) }, (_, i) => cells[i]), `inode ${ino}`);
    for (const c of cells) if (c) { refs.set(c[0], (refs.get(c[0]) ?? 0) + 1); used++; }
  }
  assert.equal(f.maps.usedBytes(), used);
  const a = f.maps.audit();
  assert.deepEqual(a.problems, []);
  for (const o of a.objects) {
    assert.equal(o.liveBytes, refs.get(o.objectId) ?? 0, `object ${o.objectId} live bytes`);
    assert.equal(o.liveBytes, o.extentBytes);
    if (o.liveBytes > 0) assert.equal(o.state, 'live');
    else assert.notEqual(o.state, 'live', `object ${o.objectId} has no live bytes but is live`);
  }
}

it('random wrote/truncate/drop/repoint sequences match a byte-array model', () => {
  fc.assert(fc.property(fc.array(cmd, { maxLength: 30 }), (cmds) => {
    const f = fixture();
    try {
      const m: Model = { files: new Map(), objects: new Map() };
      let deadBefore = 0;
      for (const c of cmds) {
        apply(f, m, c);
        check(f, m);
        const dead = (f.md.db.prepare("SELECT count(*) AS n FROM objects WHERE state = 'dead'").get() as { n: number }).n;
        if (dead > deadBefore) assert.ok(f.deaths.count > 0, 'onObjectDead was not called');
        deadBefore = dead;
      }
    } finally {
      f.md.close();
    }
  }), { numRuns: 200 });
});
