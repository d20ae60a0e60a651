import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDirLeases } from './dir-leases.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Parameters<typeof createDirLeases>[1];
const flush = () => new Promise<void>((r) => setImmediate(r));

/** A kernel whose notifications complete when the test says so. */
function setup(answerWaitMs?: number) {
  const notes: { what: string; done: () => void }[] = [];
  const released: number[] = [];
  const forgotten: number[] = [];
  const note = (what: string) => new Promise<void>((resolve) => { notes.push({ what, done: resolve }); });
  const d = createDirLeases({
    invalidateEntry: (dir, name) => note(`entry ${dir}/${name}`),
    invalidateAttrs: (dir) => note(`attrs ${dir}`),
    forget: (dir) => { forgotten.push(dir); },
    keep: () => {},
    release: async (dir) => { released.push(dir); },
  }, silent, answerWaitMs);
  return { d, notes, released, forgotten, completeAll: () => { for (const n of notes.splice(0)) n.done(); } };
}

test('a grant is used only when no directory lease was lost since the request was sent', () => {
  const { d } = setup();
  const m1 = d.mark();
  const e = d.adopt(5, m1);
  assert.ok(e !== undefined && e < 0, 'a negative epoch');
  assert.equal(d.adopt(5, m1), e, 'held: the same epoch');
  assert.equal(d.keepName(5, e!, 'a'), true);
  assert.equal(d.keepName(5, e! - 1, 'b'), false, 'another epoch');
  const m2 = d.mark();
  d.interrupted(9); // a lease lost, of any directory (here one not even held)
  assert.equal(d.adopt(6, m2), undefined, 'an answer made before that loss may be older than the change behind it');
  assert.notEqual(d.adopt(6, d.mark()), undefined);
  assert.deepEqual(d.stats(), { dirLeases: 2, names: 1, breaks: 1 });
});

test('a break forgets every kept name and the attributes, and answers once the kernel has done it', async () => {
  const { d, notes, released, forgotten, completeAll } = setup();
  const e = d.adopt(5, d.mark())!;
  d.keepName(5, e, 'a');
  d.keepName(5, e, 'b');
  d.interrupted(5);
  assert.equal(d.epoch(5), undefined, 'dropped at once');
  assert.deepEqual(notes.map((n) => n.what).sort(), ['attrs 5', 'entry 5/a', 'entry 5/b']);
  assert.deepEqual(forgotten, [5]);
  await flush();
  assert.deepEqual(released, [], 'not before the kernel has forgotten them');
  d.interrupted(5); // proxyfsd re-sends it: still answered once, when the kernel is done
  completeAll();
  await flush();
  assert.deepEqual(released, [5]);
  assert.equal(d.stats().names, 0);
});

test('with a change of the directory in flight here, the answer goes at once (the kernel holds the directory lock for it)', async () => {
  const { d, released, completeAll } = setup();
  const e = d.adopt(5, d.mark())!;
  d.keepName(5, e, 'a');
  let finish!: () => void;
  const change = d.changing([5], () => new Promise<void>((r) => { finish = r; }));
  d.interrupted(5);
  await flush();
  assert.deepEqual(released, [5]);
  // A break while nothing is in flight, then a change starts: the answer goes when it starts.
  finish();
  await change;
  d.adopt(5, d.mark());
  d.interrupted(5);
  await flush();
  assert.deepEqual(released, [5]);
  const second = d.changing([5], async () => undefined);
  await flush();
  assert.deepEqual(released, [5, 5]);
  await second;
  completeAll();
  await flush();
  assert.deepEqual(released, [5, 5], 'answered once');
});

test('a kernel that does not complete the notifications: the answer goes after the wait', async () => {
  const { d, released } = setup(30);
  d.adopt(7, d.mark());
  d.interrupted(7);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(released, [7]);
});

test('dropAll: every lease goes without a release, and grants in flight are not used', async () => {
  const { d, released, completeAll } = setup();
  const m = d.mark();
  d.adopt(1, m);
  d.adopt(2, m);
  const dropped = d.dropAll();
  completeAll();
  await dropped;
  assert.equal(d.stats().dirLeases, 0);
  assert.deepEqual(released, []);
  assert.equal(d.adopt(3, m), undefined);
});

test('a directory made here is complete: names it lacks are absent, changes here keep it exact, a failed change or a loss ends it', async () => {
  const { d, completeAll } = setup();
  const e = d.adoptNew(4, d.mark())!;
  assert.ok(e !== undefined);
  assert.equal(d.absent(4, 'x'), true);
  await d.changing([4], async () => 'ok', () => ({ added: [[4, 'x']] }));
  assert.equal(d.absent(4, 'x'), false);
  assert.equal(d.absent(4, 'y'), true);
  await d.changing([4, 8], async () => 'ok', () => ({ removed: [[4, 'x']], added: [[8, 'x']] }));
  assert.equal(d.absent(4, 'x'), true, 'renamed away');
  d.present(4, 'z'); // proxyfsd found a name the set lacks: not complete any more
  assert.equal(d.absent(4, 'q'), false);
  const e2 = d.adoptNew(5, d.mark())!;
  assert.ok(e2 !== undefined);
  await assert.rejects(d.changing([5], async () => { throw new Error('deadline'); }));
  assert.equal(d.absent(5, 'anything'), false, 'a change whose outcome is not known ends it');
  d.adoptNew(6, d.mark());
  d.interrupted(6);
  completeAll();
  assert.equal(d.absent(6, 'a'), false, 'the lease went');
});

test('the directory\'s attributes after a change are kept only when that change ran alone', async () => {
  const kept: number[] = [];
  const d = createDirLeases({
    invalidateEntry: async () => undefined, invalidateAttrs: async () => undefined, forget: () => {},
    keep: (attr) => { kept.push(attr.nlink); }, release: async () => undefined,
  }, silent);
  d.adopt(3, d.mark());
  const attr = (nlink: number) => ({ nlink }) as unknown as import('../../common/protocol/index.js').Attr;
  await d.changing([3], async () => 1, () => ({ attr: attr(1) }));
  assert.deepEqual(kept, [1]);
  // Two overlapping changes: the answers may come in either order, so neither is kept.
  let end1!: () => void;
  const c1 = d.changing([3], () => new Promise<number>((r) => { end1 = () => r(2); }), () => ({ attr: attr(2) }));
  const c2 = d.changing([3], async () => 3, () => ({ attr: attr(3) }));
  await c2;
  end1();
  await c1;
  assert.deepEqual(kept, [1]);
});
