import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pooledProvision } from './object-pool.js';

test('pooled provisioning hands out unique numbers with one RPC per batch', async () => {
  let next = 1;
  let calls = 0;
  const provision = pooledProvision(async (count) => {
    calls++;
    return Array.from({ length: count }, () => { const id = next++; return { objectId: id, key: `k${id}` }; });
  }, 8);
  const got = await Promise.all(Array.from({ length: 20 }, () => provision(1)));
  const ids = got.flat().map((o) => o.objectId);
  assert.equal(new Set(ids).size, 20);
  assert.ok(calls <= 4, `${calls} provision RPCs for 20 objects in batches of 8`);
  assert.equal((await provision(5)).length, 5);
});

test('a failed refill reaches the caller and the next call retries', async () => {
  let fail = true;
  const provision = pooledProvision(async (count) => {
    if (fail) throw new Error('server down');
    return Array.from({ length: count }, (_, i) => ({ objectId: i + 1, key: `k${i + 1}` }));
  }, 4);
  await assert.rejects(provision(1), /server down/);
  fail = false;
  assert.equal((await provision(1))[0]!.objectId, 1);
});
