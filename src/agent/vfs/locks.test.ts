import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsError } from '../../common/errors/index.js';
import { manualClock } from '../../common/clock/index.js';
import type { LockParams, LockResult } from '../../common/protocol/index.js';
import { createLockTable } from '../../volume/locks/index.js';
import { manualScheduler } from '../../volume/leases/index.js';
import { applyRange, piecesOf } from './lock-ranges.js';
import { createLocks, type SetLockRequest } from './locks.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const tick = () => new Promise((r) => setImmediate(r));

/** A client whose Lock calls wait until the test answers them, in order. */
function fakeClient() {
  const calls: { method: string; params: Omit<LockParams, 'mountId'>; answer(r: LockResult): void; fail(err: Error): void }[] = [];
  const client = {
    call(method: string, params: Omit<LockParams, 'mountId'>) {
      return new Promise((resolve, reject) => calls.push({ method, params, answer: resolve, fail: reject }));
    },
  };
  return { client: client as never, calls };
}

function req(over: Partial<SetLockRequest> = {}): SetLockRequest {
  return { type: 'write', start: 0, end: -1, wait: false, pid: 42, closing: false, signal: new AbortController().signal, ...over };
}

const shape = (c: { method: string; params: Omit<LockParams, 'mountId'> }) => {
  const { type, start, end, wait, kind } = c.params;
  return `${c.method} ${kind} ${type} ${start}..${end}${wait ? ' wait' : ''}`;
};

test('lock-ranges: fcntl splitting and merging; pieces of a range', () => {
  let r = applyRange([], 'read', 0, 100);
  r = applyRange(r, 'write', 40, 60);
  assert.deepEqual(r, [{ start: 0, end: 40, type: 'read' }, { start: 40, end: 60, type: 'write' }, { start: 60, end: 100, type: 'read' }]);
  r = applyRange(r, 'read', 40, 60);
  assert.deepEqual(r, [{ start: 0, end: 100, type: 'read' }]);
  r = applyRange(r, 'unlock', 10, 20);
  assert.deepEqual(r, [{ start: 0, end: 10, type: 'read' }, { start: 20, end: 100, type: 'read' }]);
  r = applyRange(r, 'write', 150, Infinity);
  assert.deepEqual(piecesOf(r, 5, 200), [
    { start: 5, end: 10, type: 'read' }, { start: 10, end: 20, type: 'none' }, { start: 20, end: 100, type: 'read' },
    { start: 100, end: 150, type: 'none' }, { start: 150, end: 200, type: 'write' },
  ]);
});

test('F_SETLK: a grant, a refusal (EAGAIN), an unlock; ranges go out as [start, end) with -1 = EOF', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const p1 = locks.posix(7, '99', req({ type: 'read', start: 10, end: 20 }));
  await tick();
  calls[0]!.answer({ granted: true });
  await p1;
  const p2 = locks.posix(7, '99', req({ type: 'write', start: 0, end: -1 }));
  await tick();
  calls[1]!.answer({ granted: false, retryAfterMs: 0 });
  await assert.rejects(p2, (err: FsError) => err.code === 'EAGAIN');
  const p3 = locks.posix(7, '99', req({ type: 'unlock', start: 10, end: 20, pid: 0 }));
  await tick();
  calls[2]!.answer({ granted: true });
  await p3;
  assert.deepEqual(calls.map(shape), ['Lock posix read 10..20', 'Lock posix write 0..-1', 'Lock posix unlock 10..20']);
  assert.equal(calls[0]!.params.owner, '99');
  assert.equal(calls[0]!.params.pid, 42);
  assert.equal(locks.stats().lanes, 0, 'a lane holding nothing is forgotten');
});

test('F_SETLKW asks again after the server\'s granted: false; EDEADLK passes through', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const p = locks.posix(7, '1', req({ wait: true }));
  await tick();
  calls[0]!.answer({ granted: false, retryAfterMs: 0 });
  await tick();
  assert.equal(calls.length, 2);
  calls[1]!.answer({ granted: true });
  await p;
  assert.deepEqual(calls.map(shape), ['Lock posix write 0..-1 wait', 'Lock posix write 0..-1 wait']);
  const d = locks.posix(8, '1', req({ wait: true }));
  await tick();
  calls[2]!.fail(new FsError('EDEADLK', 'cycle'));
  await assert.rejects(d, (err: FsError) => err.code === 'EDEADLK');
});

test('an interrupted wait answers EINTR at once; its late grant is undone by an unlock (the owner held nothing there)', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, start: 0, end: 100, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p, (err: { code?: string }) => err.code === 'EINTR');
  assert.equal(locks.stats().abandoned, 1);
  calls[0]!.answer({ granted: true });
  await tick();
  assert.deepEqual(calls.map(shape), ['Lock posix write 0..100 wait', 'Lock posix unlock 0..100']);
  calls[1]!.answer({ granted: true });
  await tick();
  assert.deepEqual(locks.stats(), { lanes: 0, abandoned: 0, undone: 1, undoFailures: 0 });
});

test('the undo puts back what the owner held under the range: a read lock is downgraded back, not dropped', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const r = locks.posix(7, '1', req({ type: 'read', start: 10, end: 20 }));
  await tick();
  calls[0]!.answer({ granted: true });
  await r;
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, start: 0, end: 100, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p);
  calls[1]!.answer({ granted: true });
  for (let i = 2; i < 5; i++) {
    await tick();
    calls[i]!.answer({ granted: true });
  }
  await tick();
  assert.deepEqual(calls.slice(2).map(shape), ['Lock posix unlock 0..10', 'Lock posix read 10..20', 'Lock posix unlock 20..100']);
});

test('an interrupted wait answered granted: false needs no undo', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p);
  calls[0]!.answer({ granted: false, retryAfterMs: 0 });
  await tick();
  assert.equal(calls.length, 1);
  assert.deepEqual(locks.stats(), { lanes: 0, abandoned: 0, undone: 0, undoFailures: 0 });
});

test('a restarted F_SETLKW (same owner, type and range) takes over the interrupted wait: no second request, no undo', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p);
  const again = locks.posix(7, '1', req({ wait: true }));
  await tick();
  assert.equal(calls.length, 1);
  calls[0]!.answer({ granted: true });
  await again;
  await tick();
  assert.equal(calls.length, 1);
  assert.equal(locks.stats().undone, 0);
  assert.equal(locks.stats().lanes, 1, 'the owner holds the lock');
});

test('another request of the owner over the range waits until the abandoned wait is settled; one elsewhere does not', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, start: 0, end: 100, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p);
  const elsewhere = locks.posix(7, '1', req({ type: 'read', start: 200, end: 300 }));
  const over = locks.posix(7, '1', req({ type: 'read', start: 50, end: 60 }));
  await tick();
  assert.deepEqual(calls.map(shape), ['Lock posix write 0..100 wait', 'Lock posix read 200..300']);
  calls[1]!.answer({ granted: true });
  await elsewhere;
  calls[0]!.answer({ granted: true }); // the late grant: undone first, then the waiting request goes
  await tick();
  assert.equal(shape(calls[2]!), 'Lock posix unlock 0..100');
  calls[2]!.answer({ granted: true });
  await tick();
  await tick();
  assert.equal(shape(calls[3]!), 'Lock posix read 50..60');
  calls[3]!.answer({ granted: true });
  await over;
});

test('the close-time unlock does not wait for an abandoned wait; that wait\'s late grant is then unlocked', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const held = locks.posix(7, '1', req({ type: 'read', start: 500, end: 600 }));
  await tick();
  calls[0]!.answer({ granted: true });
  await held;
  const abort = new AbortController();
  const p = locks.posix(7, '1', req({ wait: true, start: 0, end: 100, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(p);
  const close = locks.posix(7, '1', req({ type: 'unlock', start: 0, end: -1, pid: 0, closing: true }));
  await tick();
  assert.equal(shape(calls[2]!), 'Lock posix unlock 0..-1');
  calls[1]!.answer({ granted: true }); // granted while the close-time unlock is still out: the undo waits for it
  await tick();
  assert.equal(calls.length, 3);
  calls[2]!.answer({ granted: true });
  await close;
  await tick();
  assert.equal(shape(calls[3]!), 'Lock posix unlock 0..100');
  calls[3]!.answer({ granted: true });
  await tick();
  assert.equal(locks.stats().lanes, 0);
});

test('flock: shared, exclusive without LOCK_NB waits, LOCK_NB conflict is EAGAIN; the range is 0..EOF', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const sh = locks.flock(7, 'f1', req({ type: 'read', wait: false }));
  await tick();
  calls[0]!.answer({ granted: true });
  await sh;
  const nb = locks.flock(7, 'f1', req({ type: 'write', wait: false }));
  await tick();
  calls[1]!.answer({ granted: false, retryAfterMs: 0 });
  await assert.rejects(nb, (err: FsError) => err.code === 'EAGAIN');
  const un = locks.flock(7, 'f1', req({ type: 'unlock', closing: true, pid: 0 }));
  await tick();
  calls[2]!.answer({ granted: true });
  await un;
  assert.deepEqual(calls.map(shape), ['Lock flock read 0..-1', 'Lock flock write 0..-1', 'Lock flock unlock 0..-1']);
});

test('an interrupted flock conversion is undone by an unlock (the server dropped the old lock, as Linux does)', async () => {
  const { client, calls } = fakeClient();
  const locks = createLocks({ client, log: quiet });
  const sh = locks.flock(7, 'f1', req({ type: 'read' }));
  await tick();
  calls[0]!.answer({ granted: true });
  await sh;
  const abort = new AbortController();
  const ex = locks.flock(7, 'f1', req({ type: 'write', wait: true, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(ex);
  calls[1]!.answer({ granted: true });
  await tick();
  assert.equal(shape(calls[2]!), 'Lock flock unlock 0..-1');
});

test('F_GETLK asks GetLock and passes the conflict through', async () => {
  const calls: unknown[] = [];
  const client = { call: async (method: string, params: unknown) => { calls.push([method, params]); return { conflict: { type: 'write', start: 0, end: -1, pid: 77 } }; } };
  const locks = createLocks({ client: client as never, log: quiet });
  assert.deepEqual(await locks.getLock(7, '5', { type: 'read', start: 3, end: 9 }), { type: 'write', start: 0, end: -1, pid: 77 });
  assert.deepEqual(calls, [['GetLock', { ino: 7, owner: '5', kind: 'posix', type: 'read', start: 3, end: 9 }]]);
});

test('against the server\'s lock table: two agents contend, the waiter gets the lock when the holder unlocks', async () => {
  const clock = manualClock();
  const table = createLockTable({ scheduler: manualScheduler(clock) });
  const agent = (mountId: string) => createLocks({
    log: quiet,
    client: { call: async (method: string, p: never) => (method === 'Lock' ? table.lock(mountId, p) : table.getLock(mountId, p)) } as never,
  });
  const a = agent('A');
  const b = agent('B');
  await a.posix(7, '1', req({ start: 0, end: 100 }));
  await assert.rejects(b.posix(7, '1', req({ start: 50, end: 60 })), (err: FsError) => err.code === 'EAGAIN');
  await b.posix(7, '1', req({ start: 100, end: 200 }));
  assert.deepEqual(await b.getLock(7, '1', { type: 'read', start: 0, end: -1 }), { type: 'write', start: 0, end: 100, pid: 42 });
  let got = false;
  const waiting = b.posix(7, '1', req({ wait: true, start: 50, end: 60 })).then(() => { got = true; });
  await tick();
  assert.equal(got, false);
  await a.posix(7, '1', req({ type: 'unlock', start: 0, end: -1, closing: true }));
  await waiting;
  assert.equal(got, true);
  // An interrupted wait granted later is undone: the table ends up without it.
  const abort = new AbortController();
  const w = a.posix(7, '1', req({ wait: true, start: 0, end: 100, signal: abort.signal }));
  await tick();
  abort.abort();
  await assert.rejects(w);
  await b.posix(7, '1', req({ type: 'unlock', start: 0, end: -1, closing: true }));
  await tick();
  await tick();
  assert.deepEqual(table.posixLocksOf('A', '1', 7), []);
  assert.equal(table.stats().posixLocks, 0);
  table.close();
});
