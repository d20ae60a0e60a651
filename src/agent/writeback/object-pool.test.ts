import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pooledProvision, type PoolOptions } from './object-pool.js';

/** A provisioning RPC stand-in: numbers from 1 up, counting calls. */
function counter(fail = () => false) {
  let next = 1;
  const r = {
    calls: 0,
    async provision(count: number) {
      r.calls++;
      if (fail()) throw new Error('server down');
      return Array.from({ length: count }, () => { const id = next++; return { objectId: id, key: `k${id}` }; });
    },
  };
  return r;
}

function options(over: Partial<PoolOptions> = {}): PoolOptions & { t: number; gen: number } {
  const o: PoolOptions & { t: number; gen: number } = { t: 0, gen: 0, batchSize: 8, nowMs: (): number => o.t, maxAgeMs: () => 1000, generation: (): number => o.gen, ...over };
  return o;
}

test('pooled provisioning hands out unique numbers with one RPC per batch', async () => {
  const c = counter();
  const provision = pooledProvision((n) => c.provision(n), options());
  const got = await Promise.all(Array.from({ length: 20 }, () => provision(1)));
  const ids = got.flat().map((o) => o.objectId);
  assert.equal(new Set(ids).size, 20);
  assert.ok(c.calls <= 4, `${c.calls} provision RPCs for 20 objects in batches of 8`);
  assert.equal((await provision(5)).length, 5);
});

test('a failed refill reaches the caller and the next call retries', async () => {
  let fail = true;
  const c = counter(() => fail);
  const provision = pooledProvision((n) => c.provision(n), options({ batchSize: 4 }));
  await assert.rejects(provision(1), /server down/);
  fail = false;
  assert.equal((await provision(1))[0]!.objectId, 1);
});

test('pooled numbers older than maxAgeMs are never handed out', async () => {
  const c = counter();
  const o = options();
  const provision = pooledProvision((n) => c.provision(n), o);
  assert.equal((await provision(1))[0]!.objectId, 1); // pool now holds 2..8
  o.t = 1000;
  assert.equal((await provision(1))[0]!.objectId, 2, 'still within maxAgeMs');
  o.t = 1001;
  const [fresh] = await provision(1);
  assert.equal(fresh!.objectId, 9, 'numbers 3..8 aged out; a new batch was asked for');
});

test('numbers granted under an older mount generation are never handed out', async () => {
  const c = counter();
  const o = options();
  const provision = pooledProvision((n) => c.provision(n), o);
  await provision(1);
  o.gen = 1;
  assert.equal((await provision(1))[0]!.objectId, 9);
});

test('a batch that just arrived is used even when maxAgeMs is tiny (no loop)', async () => {
  const c = counter();
  const o = options({ maxAgeMs: () => 0 });
  const provision = pooledProvision(async (n) => { o.t += 5; return c.provision(n); }, o);
  assert.equal((await provision(3)).length, 3);
});

test('fresh asks the server directly and empties the pool', async () => {
  const c = counter();
  const provision = pooledProvision((n) => c.provision(n), options());
  await provision(1); // 1, pool 2..8
  const calls = c.calls;
  assert.deepEqual((await provision(1, true)).map((x) => x.objectId), [9]);
  assert.equal(c.calls, calls + 1);
  assert.equal((await provision(1))[0]!.objectId, 10, 'the old pool (2..8) is not trusted after a refusal');
});
