import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manualClock } from '../../common/clock/index.js';
import { createPathCache } from './path-cache.js';

function setup(maxAgeMs = 1000) {
  const clock = manualClock();
  const cache = createPathCache(1, { maxEntries: 100, maxAgeMs, nowMs: () => clock.nowMs() });
  return { clock, cache };
}

test('an entry older than maxAgeMs misses; set() confirms it again', () => {
  const { clock, cache } = setup();
  cache.set('/a', 2);
  clock.advanceMs(1000);
  assert.equal(cache.get('/a'), 2, 'exactly maxAgeMs old is still used');
  clock.advanceMs(1);
  assert.equal(cache.get('/a'), undefined);
  assert.equal(cache.peek('/a'), 2, 'peek ignores age');
  cache.set('/a', 2);
  assert.equal(cache.get('/a'), 2);
});

test('a stale directory makes every path below it miss, until it is confirmed; its children are kept when it is the same inode', () => {
  const { clock, cache } = setup();
  cache.set('/d', 2);
  clock.advanceMs(600);
  cache.set('/d/x', 3);
  clock.advanceMs(600);
  assert.equal(cache.get('/d/x'), undefined, '/d is 1200 ms old');
  cache.set('/d', 2);
  assert.equal(cache.get('/d/x'), 3, '/d confirmed; /d/x is 600 ms old');
});

test('a name that now leads to another inode drops what was cached below it', () => {
  const { clock, cache } = setup();
  cache.set('/d', 2);
  cache.set('/d/x', 3);
  clock.advanceMs(2000);
  cache.set('/d', 9); // another agent replaced /d
  assert.equal(cache.get('/d'), 9);
  assert.equal(cache.peek('/d/x'), undefined);
  assert.equal(cache.size(), 1);
});

test('this agent\'s own changes stay exact: create, rename (renews the moved entry), remove', () => {
  const { clock, cache } = setup();
  cache.set('/d', 2);
  cache.set('/d/x', 3);
  clock.advanceMs(900);
  cache.rename('/d', '/e');
  clock.advanceMs(200);
  assert.equal(cache.get('/e'), 2, 'renamed 200 ms ago');
  assert.equal(cache.get('/e/x'), undefined, '/e/x itself was confirmed 1100 ms ago');
  assert.equal(cache.peek('/e/x'), 3);
  assert.equal(cache.get('/d'), undefined);
  cache.remove('/e');
  assert.equal(cache.peek('/e'), undefined);
  assert.equal(cache.size(), 0);
});

test('maxAgeMs Infinity: entries never age', () => {
  const { clock, cache } = setup(Infinity);
  cache.set('/a', 2);
  clock.advanceMs(1e12);
  assert.equal(cache.get('/a'), 2);
});
