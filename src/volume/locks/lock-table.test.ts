import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PfsError } from '../../common/errors/index.js';
import { manualClock } from '../../common/clock/index.js';
import type { LockResult } from '../../common/protocol/index.js';
import { manualScheduler } from '../leases/index.js';
import { createLockTable, type LockRequest } from './index.js';

function setup(maxWaitMs?: number) {
  const clock = manualClock();
  const sched = manualScheduler(clock);
  return { t: createLockTable({ scheduler: sched, maxWaitMs }), sched };
}

const posix = (owner: string, type: LockRequest['type'], start: number, end: number, over: Partial<LockRequest> = {}): LockRequest =>
  ({ ino: 1, owner, kind: 'posix', type, start, end, wait: false, pid: 100, ...over });
const flock = (owner: string, type: LockRequest['type'], over: Partial<LockRequest> = {}): LockRequest =>
  ({ ino: 1, owner, kind: 'flock', type, start: 0, end: -1, wait: false, pid: 100, ...over });

function follow(answer: LockResult | Promise<LockResult>) {
  const s: { done: boolean; value?: LockResult; error?: { code: string } } = { done: false };
  if (answer instanceof Promise) answer.then((v) => { s.done = true; s.value = v; }, (e: { code: string }) => { s.done = true; s.error = e; });
  else { s.done = true; s.value = answer; }
  return s;
}
const flush = () => new Promise<void>((r) => setImmediate(r));
const GRANTED = { granted: true };
const REFUSED = { granted: false, retryAfterMs: 0 };

test('POSIX ranges split and merge per owner as fcntl does', () => {
  const { t } = setup();
  assert.deepEqual(t.lock('m', posix('a', 'write', 0, 100)), GRANTED);
  assert.deepEqual(t.lock('m', posix('a', 'unlock', 40, 60)), GRANTED);
  assert.deepEqual(t.posixLocksOf('m', 'a', 1), [{ type: 'write', start: 0, end: 40 }, { type: 'write', start: 60, end: 100 }]);
  t.lock('m', posix('a', 'read', 30, 70));
  assert.deepEqual(t.posixLocksOf('m', 'a', 1), [
    { type: 'write', start: 0, end: 30 }, { type: 'read', start: 30, end: 70 }, { type: 'write', start: 70, end: 100 },
  ]);
  t.lock('m', posix('a', 'write', 30, 70));
  assert.deepEqual(t.posixLocksOf('m', 'a', 1), [{ type: 'write', start: 0, end: 100 }], 'touching locks of one type merge');
  t.lock('m', posix('a', 'write', 100, -1));
  assert.deepEqual(t.posixLocksOf('m', 'a', 1), [{ type: 'write', start: 0, end: -1 }]);
  assert.deepEqual(t.lock('m', posix('a', 'write', 5, 6)), GRANTED, 'asking again for what one holds is granted');
  t.lock('m', posix('a', 'unlock', 0, -1));
  assert.deepEqual(t.posixLocksOf('m', 'a', 1), [], 'unlock 0..EOF releases all of the owner\'s locks');
  assert.equal(t.stats().posixLocks, 0);
});

test('read locks share, write locks exclude; owners are per mount; GetLock reports the first conflict', () => {
  const { t } = setup();
  t.lock('m1', posix('a', 'read', 0, 10, { pid: 7 }));
  assert.deepEqual(t.lock('m2', posix('a', 'read', 5, 15)), GRANTED, 'same owner string on another mount is another owner');
  assert.deepEqual(t.lock('m2', posix('b', 'write', 12, 20)), REFUSED);
  t.lock('m1', posix('a', 'write', 30, -1, { pid: 8 }));
  assert.deepEqual(t.getLock('m2', { ino: 1, owner: 'b', kind: 'posix', type: 'write', start: 0, end: -1 }), { conflict: { type: 'read', start: 0, end: 10, pid: 7 } });
  assert.deepEqual(t.getLock('m2', { ino: 1, owner: 'b', kind: 'posix', type: 'read', start: 0, end: 40 }), { conflict: { type: 'write', start: 30, end: -1, pid: 8 } });
  assert.deepEqual(t.getLock('m2', { ino: 1, owner: 'b', kind: 'posix', type: 'read', start: 0, end: 30 }), {});
  assert.deepEqual(t.getLock('m1', { ino: 1, owner: 'a', kind: 'posix', type: 'write', start: 30, end: 31 }), {}, 'one\'s own locks never conflict');
  assert.deepEqual(t.getLock('m1', { ino: 2, owner: 'a', kind: 'posix', type: 'write', start: 0, end: -1 }), {});
});

test('a blocking request waits, is granted in FIFO order, or is answered granted: false after the cap', async () => {
  const { t, sched } = setup(10_000);
  t.lock('m1', posix('a', 'write', 0, -1));
  const b = follow(t.lock('m2', posix('b', 'write', 0, 10, { wait: true })));
  const c = follow(t.lock('m3', posix('c', 'write', 5, 15, { wait: true })));
  const d = follow(t.lock('m3', posix('d', 'read', 100, 200, { wait: true })));
  await flush();
  assert.equal(b.done || c.done || d.done, false);
  t.lock('m1', posix('a', 'unlock', 0, 50));
  await flush();
  assert.deepEqual(b.value, GRANTED, 'the earlier of two conflicting waiters wins');
  assert.equal(c.done, false);
  assert.equal(d.done, false, 'still blocked by a\'s [50, EOF)');
  t.lock('m2', posix('b', 'unlock', 0, -1));
  await flush();
  assert.deepEqual(c.value, GRANTED);
  sched.advanceMs(10_000);
  await flush();
  assert.deepEqual(d.value, REFUSED, 'after the cap: granted false, ask again');
  assert.equal(t.stats().waitTimeouts, 1);
  assert.equal(t.stats().waiting, 0);
});

test('EDEADLK when the wait-for graph of POSIX owners has a cycle, across inodes', () => {
  const { t } = setup();
  t.lock('m1', posix('a', 'write', 0, 10, { ino: 1 }));
  t.lock('m2', posix('b', 'write', 0, 10, { ino: 2 }));
  t.lock('m3', posix('c', 'write', 0, 10, { ino: 3 }));
  follow(t.lock('m1', posix('a', 'write', 0, 10, { ino: 2, wait: true }))); // a waits for b
  follow(t.lock('m2', posix('b', 'write', 0, 10, { ino: 3, wait: true }))); // b waits for c
  assert.throws(() => t.lock('m3', posix('c', 'write', 5, 6, { ino: 1, wait: true })), { code: 'EDEADLK' }); // c -> a -> b -> c
  assert.deepEqual(t.lock('m3', posix('c', 'write', 5, 6, { ino: 1 })), REFUSED, 'a non-blocking request just fails');
  assert.equal(t.stats().deadlocks, 1);
  const other = follow(t.lock('m4', posix('d', 'write', 0, 1, { ino: 1, wait: true })));
  assert.equal(other.done, false, 'waiting on a without a cycle is fine');
});

test('flock: one lock per owner, shared or exclusive, conversion not atomic; independent of POSIX locks', async () => {
  const { t } = setup();
  assert.deepEqual(t.lock('m1', flock('f1', 'read')), GRANTED);
  assert.deepEqual(t.lock('m2', flock('f2', 'read')), GRANTED);
  assert.deepEqual(t.lock('m1', flock('f1', 'read')), GRANTED, 'again: granted');
  assert.deepEqual(t.lock('m1', posix('p', 'write', 0, -1)), GRANTED, 'POSIX and flock locks do not interact');
  assert.deepEqual(t.lock('m1', flock('f1', 'write')), REFUSED);
  assert.deepEqual(t.held('m1'), { posix: 1, flock: 0 }, 'the failed conversion gave up the shared lock (as Linux)');
  const w = follow(t.lock('m1', flock('f1', 'write', { wait: true })));
  assert.equal(w.done, false);
  t.lock('m2', flock('f2', 'unlock'));
  await flush();
  assert.deepEqual(w.value, GRANTED);
  assert.deepEqual(t.lock('m2', flock('f2', 'read')), REFUSED);
});

test('dropMount releases every lock of the mount, fails its waiters and wakes the others', async () => {
  const { t } = setup();
  t.lock('m1', posix('a', 'write', 0, -1));
  t.lock('m1', flock('f', 'write', { ino: 2 }));
  t.lock('m2', posix('y', 'write', 0, 1, { ino: 3 }));
  const mine = follow(t.lock('m1', posix('z', 'write', 0, 1, { ino: 3, wait: true })));
  const theirs = follow(t.lock('m2', posix('b', 'read', 0, 1, { wait: true })));
  const theirs2 = follow(t.lock('m2', flock('g', 'read', { ino: 2, wait: true })));
  await flush();
  assert.equal(mine.done || theirs.done || theirs2.done, false);
  assert.equal(t.dropMount('m1', new PfsError('PFS_ERR_UNKNOWN_MOUNT', 'gone')), 2);
  await flush();
  assert.equal(mine.error?.code, 'PFS_ERR_UNKNOWN_MOUNT');
  assert.deepEqual(theirs.value, GRANTED);
  assert.deepEqual(theirs2.value, GRANTED);
  assert.deepEqual(t.held('m1'), { posix: 0, flock: 0 });
});

// ---- property test against a reference model of POSIX range locks ----

/** Byte cells 0..N-1 and a tail cell N standing for [N, EOF). */
const N = 16;
type Cell = 'read' | 'write' | undefined;
const OWNERS = [{ mount: 'm1', owner: 'o1' }, { mount: 'm1', owner: 'o2' }, { mount: 'm2', owner: 'o1' }];

function cellsOf(start: number, end: number): number[] {
  const last = end === -1 ? N : end - 1;
  return Array.from({ length: last - start + 1 }, (_, i) => start + i);
}

const rangeArb = fc.integer({ min: 0, max: N - 1 }).chain((start) =>
  fc.oneof(fc.constant(-1), fc.integer({ min: start + 1, max: N })).map((end) => ({ start, end })));
const opArb = fc.record({
  who: fc.integer({ min: 0, max: OWNERS.length - 1 }),
  type: fc.constantFrom('read' as const, 'write' as const, 'unlock' as const),
  range: rangeArb,
  probe: fc.record({ type: fc.constantFrom('read' as const, 'write' as const), range: rangeArb }),
});

test('property: random lock/unlock sequences of 3 owners match a cell model (lock maps, grants, conflicts)', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
    const { t } = setup();
    const model = OWNERS.map(() => new Array<Cell>(N + 1).fill(undefined));
    const modelConflict = (who: number, type: 'read' | 'write', cells: number[]): number | undefined =>
      cells.find((c) => model.some((m, o) => o !== who && m[c] !== undefined && (type === 'write' || m[c] === 'write')));
    for (const op of ops) {
      const { mount, owner } = OWNERS[op.who]!;
      const cells = cellsOf(op.range.start, op.range.end);
      const expectGrant = op.type === 'unlock' || modelConflict(op.who, op.type, cells) === undefined;
      const got = t.lock(mount, posix(owner, op.type, op.range.start, op.range.end));
      assert.deepEqual(got, expectGrant ? GRANTED : REFUSED, JSON.stringify(op));
      if (expectGrant) for (const c of cells) model[op.who]![c] = op.type === 'unlock' ? undefined : op.type;
      // Every owner's locks: the model's cells, sorted, disjoint, same-type neighbours merged.
      OWNERS.forEach(({ mount: m, owner: o }, i) => {
        const locks = t.posixLocksOf(m, o, 1);
        const cellsFromLocks = new Array<Cell>(N + 1).fill(undefined);
        locks.forEach((l, k) => {
          for (const c of cellsOf(l.start, l.end)) cellsFromLocks[c] = l.type;
          const next = locks[k + 1];
          if (next) {
            assert.ok(l.end !== -1 && l.end <= next.start, 'sorted and disjoint');
            assert.ok(!(l.end === next.start && l.type === next.type), 'touching locks of one type are merged');
          }
        });
        assert.deepEqual(cellsFromLocks, model[i]);
      });
      // F_GETLK from the same owner over a random range.
      const probeCells = cellsOf(op.probe.range.start, op.probe.range.end);
      const first = modelConflict(op.who, op.probe.type, probeCells);
      const { conflict } = t.getLock(mount, { ino: 1, owner, kind: 'posix', type: op.probe.type, ...op.probe.range });
      assert.equal(conflict !== undefined, first !== undefined);
      if (conflict && first !== undefined) {
        assert.ok(conflict.start <= first, 'the conflict reported is the one starting first');
        assert.ok(op.probe.type === 'write' || conflict.type === 'write');
        const holder = OWNERS.findIndex(({ mount: m, owner: o }, i) => i !== op.who &&
          t.posixLocksOf(m, o, 1).some((l) => l.start === conflict.start && l.end === conflict.end && l.type === conflict.type));
        assert.ok(holder >= 0, 'the conflict is a lock another owner holds');
      }
    }
  }), { numRuns: 500 });
});
