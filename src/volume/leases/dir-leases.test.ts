import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../../common/clock/index.js';
import { COOL_MS, HOT_BREAKS, createDirLeases } from './dir-leases.js';
import { manualScheduler } from './index.js';

function setup(maxLeases?: number) {
  const clock = manualClock();
  const sched = manualScheduler(clock);
  const sent: { mountId: string; ino: number }[] = [];
  const evicted: string[] = [];
  const d = createDirLeases({
    clock, scheduler: sched, intervalMs: 250, limit: 4, maxLeases,
    hooks: {
      interrupt: (mountId, ino, action) => { assert.equal(action, 'release'); sent.push({ mountId, ino }); return true; },
      evict: (mountId) => { evicted.push(mountId); d.dropMount(mountId); },
    },
  });
  return { d, sched, sent, evicted, advance: (ms: number) => sched.advanceMs(ms) };
}

const settled = (p: Promise<void> | undefined) => {
  const s = { done: p === undefined };
  void p?.then(() => { s.done = true; });
  return s;
};
const flush = () => new Promise<void>((r) => setImmediate(r));

test('a change by the only holder breaks nothing; a change by another waits for every other holder to answer', async () => {
  const { d, sent } = setup();
  assert.equal(d.grant('A', 10), true);
  assert.equal(d.grant('A', 10), true, 'held already');
  assert.equal(d.break('A', [10]), undefined, 'the changer keeps its own lease, nobody waits');
  assert.equal(d.holds('A', 10), true);
  assert.equal(d.grant('B', 10), true);
  assert.equal(d.grant('C', 10), true);
  const s = settled(d.break('A', [10, 10]));
  assert.deepEqual(sent.map((x) => x.mountId).sort(), ['B', 'C'], 'one interrupt per other holder');
  assert.equal(d.holds('B', 10), false, 'dropped at once');
  assert.equal(d.holds('A', 10), true);
  assert.equal(d.grant('B', 10), false, 'not granted again while its answer is owed');
  d.released('B', 10);
  await flush();
  assert.equal(s.done, false, 'C has not answered');
  d.released('C', 10);
  await flush();
  assert.equal(s.done, true);
  assert.equal(d.grant('B', 10), true, 'granted again once it answered');
  assert.equal(d.stats().breaks, 2);
});

test('a later change waits for an answer an earlier break still owes', async () => {
  const { d } = setup();
  d.grant('B', 7);
  const first = settled(d.break('A', [7]));
  const second = settled(d.break('C', [7]));
  assert.equal(second.done, false, 'B may still show the old names');
  assert.equal(settled(d.break('B', [7])).done, true, 'B itself does not wait for its own answer');
  d.released('B', 7);
  await flush();
  assert.equal(first.done && second.done, true);
});

test('a holder that never answers is evicted after limit interrupts, and the change goes on', async () => {
  const { d, sent, evicted, advance } = setup();
  d.grant('B', 3);
  d.grant('B', 4);
  const s = settled(d.break('A', [3]));
  advance(250 * 3);
  assert.equal(sent.length, 4, 'sent, then re-sent every interval');
  assert.deepEqual(evicted, []);
  advance(250);
  await flush();
  assert.deepEqual(evicted, ['B']);
  assert.equal(s.done, true);
  assert.equal(d.holds('B', 4), false, 'an evicted mount holds nothing');
  assert.equal(d.stats().dirLeases, 0);
});

test('a dropped mount answers for itself; a directory broken too often is not granted for a while', async () => {
  const { d, advance } = setup();
  d.grant('B', 5);
  const s = settled(d.break('A', [5]));
  d.dropMount('B');
  await flush();
  assert.equal(s.done, true);
  for (let i = 1; i < HOT_BREAKS; i++) {
    assert.equal(d.grant(`M${i}`, 5), true);
    void d.break('A', [5]);
    d.released(`M${i}`, 5);
  }
  assert.equal(d.grant('X', 5), false, 'hot: cooling');
  assert.equal(d.stats().cooling, 1);
  advance(COOL_MS);
  assert.equal(d.grant('X', 5), true, 'cooled down');
});

test('the volume-wide bound stops grants, and close answers every waiting change', async () => {
  const { d } = setup(2);
  assert.equal(d.grant('A', 1), true);
  assert.equal(d.grant('A', 2), true);
  assert.equal(d.grant('A', 3), false, 'over the bound');
  d.released('A', 2);
  assert.equal(d.grant('A', 3), true);
  const s = settled(d.break('B', [1]));
  d.close();
  await flush();
  assert.equal(s.done, true);
  assert.equal(d.grant('A', 9), false, 'closed');
});
