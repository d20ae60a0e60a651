import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../../common/clock/index.js';
import { createLeaseManager, createReclaimGate, manualScheduler } from './index.js';

function setup(expected: string[], periodMs = 1000) {
  const sched = manualScheduler(manualClock());
  const ends: string[][] = [];
  const gate = createReclaimGate({ expected, periodMs, scheduler: sched, onEnd: (late) => ends.push(late) });
  let ended = false;
  void gate.ended()?.then(() => { ended = true; });
  const flush = () => new Promise((r) => setImmediate(r));
  return { gate, sched, ends, isEnded: () => ended, flush };
}

test('no mounts from before the start: no reclaim period', () => {
  const { gate, ends } = setup([]);
  assert.equal(gate.reclaiming, false);
  assert.equal(gate.ended(), undefined);
  assert.deepEqual(ends, []);
  assert.equal(gate.mayClaim('m1', 5), false, 'nothing to claim from a mount of this instance');
});

test('the period ends early once every expected mount has finished or is gone', async () => {
  const { gate, ends, isEnded, flush } = setup(['a', 'b', 'c']);
  assert.equal(gate.reclaiming, true);
  assert.equal(gate.mayClaim('a', 7), true);
  assert.equal(gate.mayClaim('new', 7), false, 'a mount made after the start has nothing to claim');
  gate.finished('a');
  gate.forget('b');
  await flush();
  assert.equal(isEnded(), false);
  assert.deepEqual(gate.stats(), { reclaiming: true, waitingFor: 1, late: 0 });
  gate.finished('c');
  await flush();
  assert.equal(isEnded(), true);
  assert.equal(gate.reclaiming, false);
  assert.deepEqual(ends, [[]]);
  assert.equal(gate.ended(), undefined);
  assert.equal(gate.mayClaim('a', 7), false, 'after the period only late mounts claim');
});

test('a late mount claims what nobody was granted since the end, and nothing else', async () => {
  const { gate, sched, ends, isEnded, flush } = setup(['a', 'late'], 1000);
  gate.acquiring(3); // during the period: acquisitions wait; nothing is recorded
  gate.finished('a');
  sched.advanceMs(999);
  await flush();
  assert.equal(isEnded(), false);
  sched.advanceMs(1);
  await flush();
  assert.equal(isEnded(), true);
  assert.deepEqual(ends, [['late']]);
  gate.acquiring(10);
  assert.equal(gate.mayClaim('late', 10), false, 'inode 10 was granted to someone after the end');
  assert.equal(gate.mayClaim('late', 3), true);
  assert.equal(gate.mayClaim('a', 3), false, 'a finished: a second claim is refused');
  assert.deepEqual(gate.stats(), { reclaiming: false, waitingFor: 0, late: 1 });
  gate.finished('late');
  assert.deepEqual(gate.stats(), { reclaiming: false, waitingFor: 0, late: 0 });
  gate.acquiring(11);
  assert.equal(gate.mayClaim('late', 11), false);
});

test('claimed leases are held again: conflicting requests of other mounts interrupt them; a conflicting claim is refused', () => {
  const clock = manualClock();
  const sched = manualScheduler(clock);
  const sent: { mountId: string; ino: number; action: string }[] = [];
  const m = createLeaseManager({
    clock, scheduler: sched,
    settings: { minLeaseDurationMs: 0, interruptIntervalMs: 100, interruptLimit: 3, maxLeases: 100 },
    hooks: { interrupt: (mountId, ino, action) => { sent.push({ mountId, ino, action }); return true; }, evict: () => {} },
  });
  assert.equal(m.claim('a', 5, 'exclusive'), true);
  assert.equal(m.claim('a', 6, 'shared'), true);
  assert.equal(m.claim('b', 6, 'shared'), true, 'shared claims share');
  assert.equal(m.claim('b', 5, 'shared'), false, 'a holds 5 exclusive');
  assert.deepEqual(m.held('a'), { shared: [6], exclusive: [5] });
  assert.deepEqual(m.held('b'), { shared: [6], exclusive: [] });
  const waiting = m.request('b', 5, 'shared');
  assert.ok(waiting instanceof Promise);
  sched.advanceMs(1);
  assert.deepEqual(sent, [{ mountId: 'a', ino: 5, action: 'demote' }]);
  assert.equal(m.request('a', 5, 'demote'), 'shared');
  m.close();
});

test('claimed(): the mounts that finished within the period, so that a resent Reclaim of theirs is not taken for a late one', async () => {
  const { gate, sched, flush } = setup(['a', 'b', 'c'], 1000);
  gate.finished('a');
  gate.forget('b');
  assert.equal(gate.claimed('a'), true);
  assert.equal(gate.claimed('b'), false, 'gone, not claimed');
  sched.advanceMs(1000);
  await flush();
  assert.equal(gate.reclaiming, false);
  assert.equal(gate.claimed('a'), true, 'still known after the period ended');
  assert.equal(gate.claimed('c'), false, 'late');
  gate.finished('c');
  assert.equal(gate.claimed('c'), false, 'a late claim is not one in time');
  gate.forget('a');
  assert.equal(gate.claimed('a'), false);
});
