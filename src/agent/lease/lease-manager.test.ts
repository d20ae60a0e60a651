/**
 * The agent's lease manager against a fake server whose answers the test releases by hand, with
 * manual timers: acquisition order, caching, interrupts, promotion denial, limits, retries,
 * eviction (reset).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PfsError } from '../../common/errors/index.js';
import type { Ino, LeaseGrant, LeaseRequest } from '../../common/protocol/index.js';
import { createLeaseManager } from './lease-manager.js';
import type { LeaseManager, LeaseManagerOptions, Timers } from './types.js';

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

interface Call { ino: Ino; request: LeaseRequest; answer(g: LeaseGrant): void; fail(err: Error): void }

/** A server whose calls wait until the test answers them; `auto` answers at once instead. */
function fakeServer() {
  const calls: Call[] = [];
  const log: string[] = [];
  let auto: ((ino: Ino, r: LeaseRequest) => LeaseGrant | Error) | undefined;
  return {
    calls, log,
    setAuto(f: typeof auto) { auto = f; },
    server: {
      lease(ino: Ino, request: LeaseRequest): Promise<LeaseGrant> {
        log.push(`${request} ${ino}`);
        if (auto) {
          const r = auto(ino, request);
          return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
        }
        return new Promise((resolve, reject) => calls.push({ ino, request, answer: resolve, fail: reject }));
      },
    },
    /** The oldest unanswered call, checked. */
    next(ino: Ino, request: LeaseRequest): Call {
      const c = calls.shift();
      assert.ok(c, `expected a call ${request} ${ino}, there is none`);
      assert.deepEqual([c.ino, c.request], [ino, request]);
      return c;
    },
  };
}

function manualTimers(): Timers & { fire(): number } {
  let pending: (() => void)[] = [];
  return {
    after(_ms, fn) {
      pending.push(fn);
      return () => { pending = pending.filter((f) => f !== fn); };
    },
    fire() {
      const now = pending;
      pending = [];
      for (const f of now) f();
      return now.length;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

function setup(over: Partial<LeaseManagerOptions> = {}) {
  const srv = fakeServer();
  const timers = manualTimers();
  const events: string[] = [];
  const m: LeaseManager = createLeaseManager({
    server: srv.server,
    callbacks: {
      flush: async (ino) => { events.push(`flush ${ino}`); },
      dropped: async (ino) => { events.push(`dropped ${ino}`); },
    },
    log: quietLog, timers,
    retry: { limit: 3, delayMs: 100, delayVariancePercent: 25, expBackoff: 2 },
    sharedLimit: 100, exclusiveLimit: 100,
    ...over,
  });
  return { srv, timers, events, m };
}

test('a Shared request is cached after the op; concurrent acquisitions of one inode make one call', async () => {
  const { srv, m } = setup();
  const a = m.acquireShared(7);
  const b = m.acquireShared(7);
  await tick();
  assert.equal(srv.calls.length, 1);
  srv.next(7, 'shared').answer('shared');
  const [ga, gb] = await Promise.all([a, b]);
  assert.equal(ga.epoch, gb.epoch);
  assert.equal(m.epoch(7), ga.epoch);
  ga.release();
  gb.release();
  const again = await m.acquireShared(7);
  again.release();
  assert.deepEqual(srv.log, ['shared 7'], 'the lease stayed cached');
  assert.deepEqual(m.snapshot().shared, [7]);
});

test('Shared answered with Exclusive serves later exclusive acquisitions without a call', async () => {
  const { srv, m } = setup();
  const a = m.acquireShared(1);
  await tick();
  srv.next(1, 'shared').answer('exclusive');
  (await a).release();
  (await m.acquireExclusive(1)).release();
  assert.deepEqual(srv.log, ['shared 1']);
  assert.deepEqual(m.snapshot().exclusive, [1]);
});

test('Shared -> Exclusive is a promotion; shared guards keep running meanwhile; acquisitions queue in order', async () => {
  const { srv, m } = setup();
  const s1 = m.acquireShared(3);
  await tick();
  srv.next(3, 'shared').answer('shared');
  const g1 = await s1;
  const order: string[] = [];
  const x = m.acquireExclusive(3).then((g) => { order.push('x'); return g; });
  const s2 = m.acquireShared(3).then((g) => { order.push('s2'); return g; });
  await tick();
  assert.deepEqual(m.snapshot().promoting, [3]);
  srv.next(3, 'promote').answer('exclusive');
  const gx = await x;
  const g2 = await s2;
  assert.deepEqual(order, ['x', 's2'], 'FIFO: the shared acquisition behind the promotion waited for it');
  assert.equal(gx.epoch, g1.epoch, 'a promotion keeps the epoch (caches stay valid)');
  for (const g of [g1, gx, g2]) g.release();
});

test('demote interrupt: waits for exclusive guards, flushes, demotes; shared guards are not waited for', async () => {
  const { srv, m, events } = setup();
  const a = m.acquireExclusive(5);
  await tick();
  srv.next(5, 'exclusive').answer('exclusive');
  const gx = await a;
  m.interrupt(5, 'demote');
  m.interrupt(5, 'demote'); // re-sent by the server: one demote
  await tick();
  assert.deepEqual(events, [], 'nothing before the exclusive guard is released');
  const shared = m.acquireShared(5); // queued behind the demote
  gx.release();
  await tick();
  assert.deepEqual(events, ['flush 5']);
  srv.next(5, 'demote').answer('shared');
  const gs = await shared;
  assert.equal(gs.epoch, gx.epoch);
  assert.deepEqual(m.snapshot().shared, [5]);
  assert.equal(srv.calls.length, 0);
  gs.release();
  assert.equal(m.stats().interruptsDemote, 2);
});

test('release interrupt: waits for every guard, flushes an exclusive lease, drops caches, then releases; the next acquisition asks again with a new epoch', async () => {
  const { srv, m, events } = setup();
  const a = m.acquireExclusive(9);
  await tick();
  srv.next(9, 'exclusive').answer('exclusive');
  const g = await a;
  m.interrupt(9, 'release');
  await tick();
  assert.deepEqual(events, []);
  g.release();
  await tick();
  assert.equal(m.epoch(9), undefined, 'caches are not trusted from the start of the release');
  assert.deepEqual(events, ['flush 9', 'dropped 9']);
  srv.next(9, 'release').answer('none');
  await tick();
  assert.deepEqual(m.snapshot().exclusive, []);
  const b = m.acquireShared(9);
  await tick();
  srv.next(9, 'shared').answer('shared');
  const g2 = await b;
  assert.notEqual(g2.epoch, g.epoch);
  g2.release();
});

test('an interrupt for a lease not held is answered with release; a demote of a Shared lease with demote', async () => {
  const { srv, m, events } = setup();
  m.interrupt(11, 'demote');
  await tick();
  srv.next(11, 'release').answer('none');
  const a = m.acquireShared(12);
  await tick();
  srv.next(12, 'shared').answer('shared');
  (await a).release();
  m.interrupt(12, 'demote');
  await tick();
  srv.next(12, 'demote').answer('shared');
  await tick();
  assert.deepEqual(events, [], 'nothing flushed or dropped');
  assert.deepEqual(m.snapshot().shared, [12]);
});

test('an interrupt that arrives while the request is in flight is served after the grant (after the ops that waited)', async () => {
  const { srv, m, events } = setup();
  const a = m.acquireExclusive(4);
  await tick();
  m.interrupt(4, 'release');
  srv.next(4, 'exclusive').answer('exclusive');
  const g = await a;
  await tick();
  assert.equal(srv.calls.length, 0, 'the release waits for the guard');
  g.release();
  await tick();
  assert.deepEqual(events, ['flush 4', 'dropped 4']);
  srv.next(4, 'release').answer('none');
});

test('a denied promotion releases (after the shared guards end) and asks for Exclusive', async () => {
  const { srv, m, events } = setup();
  const s = m.acquireShared(6);
  await tick();
  srv.next(6, 'shared').answer('shared');
  const gs = await s;
  const x = m.acquireExclusive(6);
  await tick();
  srv.next(6, 'promote').fail(new PfsError('PFS_ERR_LEASE_DENIED', 'another promotion waits'));
  await tick();
  assert.equal(srv.calls.length, 0, 'the release waits for the shared guard');
  gs.release();
  await tick();
  assert.deepEqual(events, ['dropped 6'], 'a Shared lease has nothing to flush');
  srv.next(6, 'release').answer('none');
  await tick();
  srv.next(6, 'exclusive').answer('exclusive');
  const gx = await x;
  assert.notEqual(gx.epoch, gs.epoch);
  gx.release();
  assert.equal(m.stats().denials, 1);
});

test('an error other than a retryable one fails the acquisition; the next one asks again', async () => {
  const { srv, m } = setup();
  const a = m.acquireShared(2);
  await tick();
  srv.next(2, 'shared').fail(Object.assign(new Error('not a regular file'), { code: 'EINVAL' }));
  await assert.rejects(a, { code: 'EINVAL' });
  assert.equal(m.known(2), false);
  const b = m.acquireShared(2);
  await tick();
  srv.next(2, 'shared').answer('shared');
  (await b).release();
});

test('a request past its RPC deadline is asked again after LeaseRetryDelay, growing by LeaseRetryExpBackoff, up to LeaseRetryLimit', async () => {
  const { srv, m, timers } = setup();
  const a = m.acquireShared(8);
  const deadline = () => new PfsError('PFS_ERR_RPC_DEADLINE', 'no reply');
  for (let i = 0; i < 3; i++) {
    await tick();
    srv.next(8, 'shared').fail(deadline());
    await tick();
    assert.equal(srv.calls.length, 0, 'waits for the retry delay');
    assert.equal(timers.fire(), 1);
  }
  await tick();
  srv.next(8, 'shared').fail(deadline());
  await assert.rejects(a, { code: 'PFS_ERR_RPC_DEADLINE' });
  assert.equal(m.stats().retries, 3);
});

test('limits: beyond ExclusiveLeaseLimit the least recently used idle lease is demoted, beyond SharedLeaseLimit released', async () => {
  const { srv, m, events } = setup({ exclusiveLimit: 2, sharedLimit: 3 });
  srv.setAuto((_ino, r) => (r === 'shared' || r === 'exclusive' ? 'exclusive' : r === 'demote' ? 'shared' : 'none'));
  for (let ino = 1; ino <= 6; ino++) {
    (await m.acquireShared(ino)).release();
    await tick();
    await tick();
  }
  await tick();
  const snap = m.snapshot();
  assert.ok(snap.exclusive.length <= 2, JSON.stringify(snap));
  assert.ok(snap.shared.length <= 3, JSON.stringify(snap));
  assert.deepEqual(snap.exclusive, [5, 6], 'the most recently used stay exclusive');
  assert.deepEqual(snap.shared, [1, 2, 3], 'demoted in LRU order while Shared had room');
  assert.deepEqual(events, ['flush 1', 'flush 2', 'flush 3', 'flush 4', 'dropped 4'], 'then released (flushed first) with one call');
  assert.equal(m.stats().limitRevocations, 4);
});

test('limits: beyond SharedLeaseLimit the least recently used Shared lease is released', async () => {
  const { srv, m, events } = setup({ exclusiveLimit: 10, sharedLimit: 2 });
  srv.setAuto((_ino, r) => (r === 'release' ? 'none' : 'shared'));
  for (const ino of [1, 2]) (await m.acquireShared(ino)).release();
  (await m.acquireShared(1)).release(); // 1 is used again: 2 is now the least recently used
  (await m.acquireShared(3)).release();
  for (let i = 0; i < 4; i++) await tick();
  assert.deepEqual(m.snapshot().shared, [1, 3]);
  assert.deepEqual(events, ['dropped 2']);
});

test('limits skip leases in use', async () => {
  const { srv, m } = setup({ exclusiveLimit: 1, sharedLimit: 1 });
  srv.setAuto((_ino, r) => (r === 'demote' ? 'shared' : r === 'release' ? 'none' : 'exclusive'));
  const busy = await m.acquireExclusive(1);
  (await m.acquireExclusive(2)).release();
  await tick();
  await tick();
  assert.deepEqual(m.snapshot().exclusive, [1], 'the busy lease stays; the idle one was demoted');
  busy.release();
});

test('demoteAll and releaseAll (HTTP admin) count and wait', async () => {
  const { srv, m, events } = setup();
  srv.setAuto((_ino, r) => (r === 'demote' ? 'shared' : r === 'release' ? 'none' : 'exclusive'));
  for (const ino of [1, 2, 3]) (await m.acquireExclusive(ino)).release();
  assert.equal(await m.demoteAll(), 3);
  assert.deepEqual(m.snapshot().shared, [1, 2, 3]);
  assert.equal(await m.releaseAll(), 3);
  assert.deepEqual(m.snapshot(), { shared: [], exclusive: [], requesting: [], promoting: [], demoting: [], releasing: [] });
  assert.deepEqual(events.filter((e) => e.startsWith('flush')), ['flush 1', 'flush 2', 'flush 3']);
});

test('reset (eviction): leases forgotten without a call, a request in flight is ignored, waiting acquisitions ask again', async () => {
  const { srv, m } = setup();
  const a = m.acquireExclusive(1);
  await tick();
  srv.next(1, 'exclusive').answer('exclusive');
  const old = await a;
  const b = m.acquireShared(2);
  await tick();
  const inFlight = srv.next(2, 'shared');
  assert.deepEqual(m.reset(), [1]);
  assert.equal(m.epoch(1), undefined, 'the old guard is stale');
  await tick();
  srv.next(2, 'shared').answer('shared'); // asked again under the new mount
  inFlight.fail(new PfsError('PFS_ERR_MOUNT_EVICTED', 'evicted'));
  const gb = await b;
  old.release(); // harmless
  gb.release();
  assert.deepEqual(m.snapshot().shared, [2]);
  assert.equal(m.stats().evictions, 1);
});

test('close waits for calls in flight and refuses later acquisitions', async () => {
  const { srv, m } = setup();
  const a = m.acquireShared(1);
  await tick();
  let closed = false;
  const c = m.close().then(() => { closed = true; });
  await tick();
  assert.equal(closed, false);
  srv.next(1, 'shared').answer('shared');
  (await a).release();
  await c;
  await assert.rejects(m.acquireShared(1), { code: 'PFS_ERR_RPC_CLOSED' });
});

test('a release waits for the kernel\'s invalidation, at most invalidateWaitMs, and not at all once an operation queues on the inode', async () => {
  const srv = fakeServer();
  const timers = manualTimers();
  let finishInvalidation = () => {};
  const m = createLeaseManager({
    server: srv.server,
    callbacks: { flush: async () => {}, dropped: () => new Promise<void>((r) => { finishInvalidation = r; }) },
    log: quietLog, timers, retry: { limit: 0, delayMs: 1, delayVariancePercent: 1, expBackoff: 1 },
    sharedLimit: 10, exclusiveLimit: 10,
  });
  srv.setAuto((_ino, r) => (r === 'release' ? 'none' : 'shared'));
  const hold = async (ino: Ino) => (await m.acquireShared(ino)).release();
  await hold(1);
  m.interrupt(1, 'release');
  await tick();
  assert.deepEqual(srv.log, ['shared 1'], 'waiting for the kernel');
  assert.equal(m.heldEpoch(1) !== undefined && m.epoch(1) === undefined, true, 'the server still counts it ours; caches are not trusted');
  finishInvalidation();
  await tick();
  assert.deepEqual(srv.log, ['shared 1', 'release 1']);

  await hold(2);
  m.interrupt(2, 'release');
  await tick();
  assert.equal(timers.fire(), 1, 'the bound');
  await tick();
  assert.deepEqual(srv.log.slice(-1), ['release 2']);

  await hold(3);
  m.interrupt(3, 'release');
  await tick();
  const waiting = m.acquireShared(3); // e.g. a FUSE read that may hold page locks the invalidation needs
  await tick();
  assert.deepEqual(srv.log.slice(-2), ['release 3', 'shared 3']);
  (await waiting).release();
});
