import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openLocalStore, withFaults, withMetrics, type StoreObserver } from './index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pfs-store-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('withMetrics reports each call: op, seconds, bytes moved, error code', async () => {
  const calls: { op: string; seconds: number; bytes: number; code?: string }[] = [];
  const observer: StoreObserver = { onCall: (backend, op, seconds, bytes, code) => { assert.equal(backend, 'local'); calls.push({ op, seconds, bytes, code }); } };
  const faulty = withFaults(openLocalStore(dir), {});
  const store = withMetrics(faulty, 'local', observer);
  await store.put('a', [Buffer.alloc(10), Buffer.alloc(5)]);
  assert.equal((await store.get('a', { offset: 2, length: 4 })).length, 4);
  await store.head('a');
  await assert.rejects(store.get('missing'), { code: 'PFS_ERR_OBJECT_MISSING' });
  const keys = [];
  for await (const info of store.list('')) keys.push(info.key);
  assert.deepEqual(keys, ['a']);
  faulty.plan.failNext = { list: 1 };
  await assert.rejects(async () => { for await (const _ of store.list('')) { /* drain */ } }, { code: 'PFS_ERR_OBJECT_STORE' });
  await store.delete('a');
  await store.close();
  assert.deepEqual(calls.map(({ op, bytes, code }) => [op, bytes, code]), [
    ['put', 15, undefined], ['get', 4, undefined], ['head', 0, undefined], ['get', 0, 'PFS_ERR_OBJECT_MISSING'],
    ['list', 0, undefined], ['list', 0, 'PFS_ERR_OBJECT_STORE'], ['delete', 0, undefined],
  ]);
  assert.ok(calls.every((c) => c.seconds >= 0 && c.seconds < 5));
});
