/**
 * The conformance suite every ObjectStore backend passes. A backend's test file calls
 * runConformance(name, makeStore); makeStore must return a fresh, empty store and a cleanup
 * that removes whatever backs it. The suite closes the store itself before cleanup.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ObjectStore } from './types.js';

export interface StoreUnderTest {
  store: ObjectStore;
  cleanup: () => Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function keysOf(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

function rejectsWith(code: string): (err: unknown) => boolean {
  return (err) => (err as { code?: string }).code === code;
}

export function runConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  const test = (title: string, fn: (store: ObjectStore) => Promise<void>): void => {
    it(title, async () => {
      const { store, cleanup } = await makeStore();
      try {
        await fn(store);
      } finally {
        await store.close();
        await cleanup();
      }
    });
  };

  describe(`object store conformance: ${name}`, () => {
    test('put then get returns the bytes; head reports the size', async (store) => {
      const body = Buffer.from('hello, object store');
      await store.put('k1', body);
      assert.deepEqual(await store.get('k1'), body);
      const info = await store.head('k1');
      assert.equal(info.key, 'k1');
      assert.equal(info.sizeBytes, body.length);
    });

    test('a list of buffers is one object, its bytes in order (empty parts too, views of larger buffers)', async (store) => {
      const big = randomBytes(3 << 20);
      const parts = [big.subarray(5, 1 << 20), Buffer.alloc(0), randomBytes(1), big.subarray(2 << 20), Buffer.alloc(0), randomBytes(70_000)];
      const whole = Buffer.concat(parts);
      await store.put('parts', parts);
      assert.equal((await store.head('parts')).sizeBytes, whole.length);
      assert.ok((await store.get('parts')).equals(whole));
      assert.ok((await store.get('parts', { offset: (1 << 20) - 10, length: 20 })).equals(whole.subarray((1 << 20) - 10, (1 << 20) + 10)));
      await store.put('one-of-many', [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(0)]);
      assert.deepEqual(await store.get('one-of-many'), Buffer.from('x'));
      await store.put('none', []);
      assert.equal((await store.head('none')).sizeBytes, 0);
    });

    test('an empty object exists and reads as empty', async (store) => {
      await store.put('empty', Buffer.alloc(0));
      assert.equal((await store.get('empty')).length, 0);
      assert.equal((await store.head('empty')).sizeBytes, 0);
      assert.deepEqual(await keysOf(store, ''), ['empty']);
    });

    test('a range get returns exactly that range', async (store) => {
      const body = randomBytes(1000);
      await store.put('r', body);
      assert.deepEqual(await store.get('r', { offset: 0, length: 10 }), body.subarray(0, 10));
      assert.deepEqual(await store.get('r', { offset: 123, length: 456 }), body.subarray(123, 579));
      assert.deepEqual(await store.get('r', { offset: 0, length: 1000 }), body);
      assert.deepEqual(await store.get('r', { offset: 999, length: 1 }), body.subarray(999));
    });

    test('a range get is clipped at the end; past the end it is empty', async (store) => {
      const body = randomBytes(100);
      await store.put('c', body);
      assert.deepEqual(await store.get('c', { offset: 90, length: 50 }), body.subarray(90));
      assert.equal((await store.get('c', { offset: 100, length: 10 })).length, 0);
      assert.equal((await store.get('c', { offset: 5000, length: 10 })).length, 0);
      assert.equal((await store.get('c', { offset: 10, length: 0 })).length, 0);
    });

    test('get, range get and head of a missing key fail with PFS_ERR_OBJECT_MISSING', async (store) => {
      await assert.rejects(store.get('nope'), rejectsWith('PFS_ERR_OBJECT_MISSING'));
      await assert.rejects(store.get('nope', { offset: 0, length: 1 }), rejectsWith('PFS_ERR_OBJECT_MISSING'));
      await assert.rejects(store.head('nope'), rejectsWith('PFS_ERR_OBJECT_MISSING'));
    });

    test('delete removes the object and is idempotent', async (store) => {
      await store.put('d', Buffer.from('x'));
      await store.delete('d');
      await assert.rejects(store.get('d'), rejectsWith('PFS_ERR_OBJECT_MISSING'));
      await store.delete('d');
      await store.delete('never-existed');
      assert.deepEqual(await keysOf(store, ''), []);
    });

    test('put replaces an existing object (longer, then shorter)', async (store) => {
      await store.put('o', Buffer.from('first version'));
      await store.put('o', Buffer.from('a much longer second version'));
      assert.equal((await store.get('o')).toString(), 'a much longer second version');
      await store.put('o', Buffer.from('3rd'));
      assert.equal((await store.get('o')).toString(), '3rd');
      assert.equal((await store.head('o')).sizeBytes, 3);
      assert.deepEqual(await keysOf(store, ''), ['o']);
    });

    test('list yields the keys with a prefix, in ascending order, with sizes', async (store) => {
      for (const [k, n] of [['b1', 1], ['a2', 2], ['ab', 3], ['a1', 4], ['c', 5]] as const) await store.put(k, Buffer.alloc(n));
      assert.deepEqual(await keysOf(store, 'a'), ['a1', 'a2', 'ab']);
      assert.deepEqual(await keysOf(store, ''), ['a1', 'a2', 'ab', 'b1', 'c']);
      assert.deepEqual(await keysOf(store, 'zz'), []);
      const sizes: Record<string, number> = {};
      for await (const info of store.list('')) sizes[info.key] = info.sizeBytes;
      assert.deepEqual(sizes, { a1: 4, a2: 2, ab: 3, b1: 1, c: 5 });
      await store.delete('a2');
      assert.deepEqual(await keysOf(store, 'a'), ['a1', 'ab']);
    });

    test('log-segment keys (16 hex digits) work', async (store) => {
      await store.put('1000000000000000', Buffer.from('seg'));
      assert.deepEqual(await keysOf(store, '1'), ['1000000000000000']);
      assert.equal((await store.get('1000000000000000')).toString(), 'seg');
    });

    test('a 20 MiB object round-trips, whole and by range', async (store) => {
      const body = randomBytes(20 * 1024 * 1024);
      await store.put('big', body);
      assert.equal((await store.head('big')).sizeBytes, body.length);
      assert.equal(sha256(await store.get('big')), sha256(body));
      const tail = await store.get('big', { offset: body.length - 1000, length: 1 << 20 });
      assert.deepEqual(tail, body.subarray(body.length - 1000));
    });

    test('concurrent puts of different keys all land', async (store) => {
      const bodies = Array.from({ length: 32 }, (_, i) => randomBytes(1000 + i));
      await Promise.all(bodies.map((b, i) => store.put(`p${String(i).padStart(2, '0')}`, b)));
      const got = await Promise.all(bodies.map((_, i) => store.get(`p${String(i).padStart(2, '0')}`)));
      got.forEach((g, i) => assert.deepEqual(g, bodies[i]));
      assert.equal((await keysOf(store, 'p')).length, 32);
    });

    test('concurrent puts of one key leave one whole body; readers never see a part', async (store) => {
      const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024 + i * 1000, i + 1));
      await store.put('same', bodies[0]!);
      const digests = new Set(bodies.map(sha256));
      const reads: Promise<Buffer>[] = [];
      const puts = bodies.map(async (b) => {
        reads.push(store.get('same'));
        await store.put('same', b);
      });
      await Promise.all(puts);
      for (const r of await Promise.all(reads)) assert.ok(digests.has(sha256(r)), 'a reader saw a partial object');
      assert.ok(digests.has(sha256(await store.get('same'))));
      assert.deepEqual(await keysOf(store, ''), ['same']);
    });
  });
}
