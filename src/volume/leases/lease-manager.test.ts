import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PfsError } from '../../common/errors/index.js';
import { manualClock } from '../../common/clock/index.js';
import type { LeaseGrant, LeaseInterruptAction } from '../../common/protocol/index.js';
import { createLeaseManager, manualScheduler, type LeaseSettings } from './index.js';

interface Sent { mountId: string; ino: number; action: LeaseInterruptAction; atMs: number }

function setup(over: Partial<LeaseSettings> = {}) {
  const clock = manualClock();
  const sched = manualScheduler(clock);
  const t0 = clock.nowMs();
  const at = () => clock.nowMs() - t0;
  const sent: Sent[] = [];
  const evicted: { mountId: string; ino: number; atMs: number }[] = [];
  const m = createLeaseManager({
    clock,
    scheduler: sched,
    settings: { minLeaseDurationMs: 250, interruptIntervalMs: 250, interruptLimit: 20, maxLeases: 1000, ...over },
    hooks: {
      interrupt: (mountId, ino, action) => { sent.push({ mountId, ino, action, atMs: at() }); return true; },
      evict: (mountId, ino) => { evicted.push({ mountId, ino, atMs: at() }); },
    },
  });
  return { m, sched, sent, evicted, at, advance: (ms: number) => sched.advanceMs(ms) };
}

/** Follows a request's answer: immediate, or a promise observed after flush(). */
function follow(answer: LeaseGrant | Promise<LeaseGrant>) {
  const s: { done: boolean; value?: LeaseGrant; error?: PfsError } = { done: false };
  if (answer instanceof Promise) answer.then((v) => { s.done = true; s.value = v; }, (e: PfsError) => { s.done = true; s.error = e; });
  else { s.done = true; s.value = answer; }
  return s;
}
const flush = () => new Promise<void>((r) => setImmediate(r));

test('grants: a lone shared request gets exclusive; asking for what one holds answers at once; release', () => {
  const { m, sent } = setup();
  assert.equal(m.request('A', 1, 'shared'), 'exclusive', 'nobody else holds or waits: upgraded');
  assert.equal(m.request('A', 1, 'shared'), 'exclusive', 'resend answers at once with what it holds');
  assert.equal(m.request('A', 1, 'exclusive'), 'exclusive');
  assert.equal(m.request('B', 2, 'exclusive'), 'exclusive');
  assert.deepEqual(m.held('A'), { shared: [], exclusive: [1] });
  assert.equal(m.request('A', 1, 'release'), 'none');
  assert.equal(m.request('A', 1, 'release'), 'none', 'release is idempotent');
  assert.equal(m.request('A', 1, 'demote'), 'none', 'demote of nothing holds nothing');
  assert.deepEqual(m.held('A'), { shared: [], exclusive: [] });
  assert.deepEqual(sent, []);
  assert.equal(m.stats().leases, 1);
});

test('conflict: the holder is interrupted, answers, and the waiter is granted', async () => {
  const { m, sent, advance, at } = setup();
  assert.equal(m.request('A', 7, 'exclusive'), 'exclusive');
  advance(1000);
  const b = follow(m.request('B', 7, 'exclusive'));
  assert.deepEqual(sent, [{ mountId: 'A', ino: 7, action: 'release', atMs: 1000 }], 'an old grant is interrupted at once');
  await flush();
  assert.equal(b.done, false);
  advance(100);
  assert.equal(m.request('A', 7, 'release'), 'none');
  await flush();
  assert.deepEqual(b, { done: true, value: 'exclusive' });
  assert.equal(at(), 1100);
  advance(5000);
  assert.equal(sent.length, 1, 'no interrupt after the answer');
});

test('a shared request demotes an exclusive holder; both then hold shared', async () => {
  const { m, sent, advance } = setup();
  m.request('A', 3, 'shared');
  advance(300);
  const b = follow(m.request('B', 3, 'shared'));
  assert.deepEqual(sent.map((s) => [s.mountId, s.action]), [['A', 'demote']]);
  assert.equal(m.request('A', 3, 'demote'), 'shared');
  await flush();
  assert.deepEqual(b, { done: true, value: 'shared' }, 'another mount holds: shared, not exclusive');
  assert.deepEqual(m.held('A'), { shared: [3], exclusive: [] });
  assert.equal(m.request('C', 3, 'shared'), 'shared', 'compatible with the holders and nobody waits: at once');
});

test('MinLeaseDuration: a recent grant is interrupted only once it is MinLeaseDuration old', async () => {
  const { m, sent, advance } = setup({ minLeaseDurationMs: 250 });
  m.request('A', 1, 'exclusive');
  advance(100);
  const b = follow(m.request('B', 1, 'shared'));
  advance(149);
  assert.deepEqual(sent, [], 'no interrupt during the window');
  advance(1);
  assert.deepEqual(sent, [{ mountId: 'A', ino: 1, action: 'demote', atMs: 250 }]);
  m.request('A', 1, 'demote');
  await flush();
  assert.equal(b.value, 'shared');
});

test('an unanswered interrupt is re-sent every interval, LeaseInterruptLimit times, then the mount is evicted', async () => {
  const { m, sent, evicted, advance } = setup({ minLeaseDurationMs: 0, interruptIntervalMs: 100, interruptLimit: 5 });
  m.request('A', 1, 'exclusive');
  m.request('A', 2, 'shared');
  advance(10);
  const b = follow(m.request('B', 1, 'shared'));
  advance(399);
  assert.equal(sent.length, 4);
  advance(1);
  assert.deepEqual(sent.map((s) => s.atMs), [10, 110, 210, 310, 410], 'exactly LeaseInterruptLimit interrupts');
  assert.deepEqual(evicted, []);
  advance(99);
  assert.deepEqual(evicted, []);
  advance(1);
  assert.deepEqual(evicted, [{ mountId: 'A', ino: 1, atMs: 510 }], 'evicted one interval after the last interrupt');
  await flush();
  assert.deepEqual(b, { done: true, value: 'exclusive' }, 'the waiter is granted; A no longer holds anything');
  assert.deepEqual(m.held('A'), { shared: [], exclusive: [] });
  assert.equal(m.stats().evictions, 1);
  advance(10_000);
  assert.equal(sent.length, 5);
});

test('an eviction fails the evicted mount\'s own waiting requests and withdraws the interrupts made for them', async () => {
  const { m, evicted, advance } = setup({ minLeaseDurationMs: 0, interruptIntervalMs: 100, interruptLimit: 2 });
  m.request('A', 1, 'exclusive');
  m.request('C', 4, 'exclusive');
  const b = follow(m.request('B', 1, 'exclusive')); // A is asked to release 1
  const aBlocked = follow(m.request('A', 4, 'shared')); // C is asked to demote 4
  advance(200); // nobody answers: A's interrupt started first, so A is evicted first
  await flush();
  assert.deepEqual(evicted, [{ mountId: 'A', ino: 1, atMs: 200 }]);
  assert.equal(b.value, 'exclusive');
  assert.equal(aBlocked.error?.code, 'PFS_ERR_MOUNT_EVICTED');
  advance(1000);
  assert.equal(evicted.length, 1, 'nobody waits for C any more: its interrupt was withdrawn');
  assert.deepEqual(m.held('C'), { shared: [], exclusive: [4] });
});

test('promote: waits for the other holders; a second promotion is denied', async () => {
  const { m, sent, advance } = setup();
  m.request('A', 5, 'shared');
  advance(300);
  const b = follow(m.request('B', 5, 'shared'));
  m.request('A', 5, 'demote');
  await flush();
  assert.equal(b.value, 'shared');
  advance(300);
  const a = follow(m.request('A', 5, 'promote'));
  const c = follow(m.request('C', 5, 'exclusive'));
  assert.throws(() => m.request('B', 5, 'promote'), { code: 'PFS_ERR_LEASE_DENIED' });
  assert.throws(() => m.request('B', 5, 'exclusive'), { code: 'PFS_ERR_LEASE_DENIED' }, 'exclusive from a shared holder is a promotion');
  assert.equal(m.stats().denials, 2);
  assert.ok(sent.some((s) => s.mountId === 'B' && s.action === 'release'));
  assert.equal(m.request('B', 5, 'release'), 'none');
  await flush();
  assert.deepEqual(a, { done: true, value: 'exclusive' });
  assert.equal(c.done, false, 'C waits behind the promotion');
  m.request('A', 5, 'release');
  await flush();
  assert.equal(c.value, 'exclusive');
});

test('promote alone upgrades at once; promote without a lease is exclusive; a mount asked to release may not promote', () => {
  const { m, advance } = setup({ maxLeases: 1 });
  assert.equal(m.request('A', 1, 'exclusive'), 'exclusive');
  assert.equal(m.request('A', 1, 'demote'), 'shared');
  assert.equal(m.request('A', 1, 'promote'), 'exclusive');
  assert.equal(m.request('B', 2, 'promote'), 'exclusive');
  // B's grant put the volume over MaxLeases: A (least recently used) is asked to release 1.
  advance(300);
  m.request('A', 1, 'demote');
  assert.throws(() => m.request('A', 1, 'promote'), { code: 'PFS_ERR_LEASE_DENIED', message: /being asked to release/ });
});

test('waiters are served in arrival order (FIFO), compatible neighbours together', async () => {
  const { m, advance } = setup({ minLeaseDurationMs: 0 });
  m.request('A', 1, 'exclusive');
  const b = follow(m.request('B', 1, 'exclusive'));
  const c = follow(m.request('C', 1, 'shared'));
  const d = follow(m.request('D', 1, 'shared'));
  m.request('A', 1, 'release');
  await flush();
  assert.equal(b.value, 'exclusive');
  assert.equal(c.done, false, 'C arrived after B');
  advance(1);
  m.request('B', 1, 'demote');
  await flush();
  assert.equal(c.value, 'shared');
  assert.equal(d.value, 'shared');
  const e = follow(m.request('E', 1, 'shared'));
  assert.equal(e.value, 'shared');
});

test('a request resent while the first still waits gets the same answer', async () => {
  const { m, advance } = setup({ minLeaseDurationMs: 0 });
  m.request('A', 1, 'exclusive');
  const first = follow(m.request('B', 1, 'shared'));
  const again = follow(m.request('B', 1, 'shared'));
  assert.equal(m.stats().waiting, 2);
  advance(1);
  m.request('A', 1, 'release');
  await flush();
  assert.equal(first.value, 'exclusive');
  assert.equal(again.value, 'exclusive');
});

test('MaxLeases: beyond it the least recently used idle leases are asked to release', () => {
  const { m, sent, advance } = setup({ maxLeases: 3 });
  for (const ino of [1, 2, 3]) m.request('A', ino, 'exclusive');
  advance(1000);
  m.request('A', 1, 'shared'); // use: 1 becomes the most recent
  m.request('B', 4, 'exclusive');
  assert.deepEqual(sent, [{ mountId: 'A', ino: 2, action: 'release', atMs: 1000 }]);
  m.request('B', 5, 'exclusive');
  assert.deepEqual(sent.map((s) => s.ino), [2, 3], 'one more over: the next least recently used');
  m.request('A', 2, 'release');
  m.request('A', 3, 'release');
  assert.equal(m.stats().leases, 3);
  assert.equal(m.stats().limitRevocations, 2);
  advance(10_000);
  assert.equal(sent.length, 2, 'answered: no re-sends');
});

test('dropMount (unmount) releases the mount\'s leases and fails its waiters; others proceed', async () => {
  const { m, advance } = setup({ minLeaseDurationMs: 0 });
  m.request('A', 1, 'exclusive');
  m.request('B', 2, 'exclusive');
  const aWaits = follow(m.request('A', 2, 'shared'));
  const bWaits = follow(m.request('B', 1, 'shared'));
  advance(1);
  assert.equal(m.dropMount('A', new PfsError('PFS_ERR_UNKNOWN_MOUNT', 'unmounted')), 1);
  await flush();
  assert.equal(aWaits.error?.code, 'PFS_ERR_UNKNOWN_MOUNT');
  assert.equal(bWaits.value, 'exclusive');
  assert.deepEqual(m.held('A'), { shared: [], exclusive: [] });
  assert.equal(m.stats().waiting, 0);
});

test('close cancels every timer and leaves waiters unanswered', async () => {
  const { m, sched } = setup();
  m.request('A', 1, 'exclusive');
  const b = follow(m.request('B', 1, 'exclusive'));
  assert.ok(sched.pending() > 0);
  m.close();
  sched.advanceMs(60_000);
  await flush();
  assert.equal(b.done, false);
  assert.throws(() => m.request('A', 1, 'shared'), { code: 'PFS_ERR_RPC_CLOSED' });
});
