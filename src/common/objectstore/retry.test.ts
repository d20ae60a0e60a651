import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PfsError } from '../errors/index.js';
import { testLogger } from '../rpc/test-support.js';
import { withFaults } from './faults.js';
import { openLocalStore } from './local.js';
import { retryDelayMs, withRetry, type RetryPolicy } from './retry.js';
import type { ObjectInfo, ObjectStore } from './types.js';

const fast: RetryPolicy = { limit: 3, delayMs: 5, variancePercent: 25, expBackoff: 2 };

async function withLocal(fn: (store: ObjectStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pfs-retry-'));
  const store = openLocalStore(dir);
  try {
    await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('object store retries', () => {
  it('delays grow by expBackoff and shrink by at most the variance', () => {
    assert.equal(retryDelayMs({ ...fast, delayMs: 1000 }, 1, 0), 1000);
    assert.equal(retryDelayMs({ ...fast, delayMs: 1000 }, 3, 0), 4000);
    assert.equal(retryDelayMs({ ...fast, delayMs: 1000 }, 1, 0.999), 750);
  });

  it('retries transient failures up to the limit, then throws the last error', async () => {
    await withLocal(async (local) => {
      const faulty = withFaults(local, { failNext: { put: 3 } });
      const retries: string[] = [];
      const store = withRetry(faulty, fast, testLogger(), { onRetry: (op) => retries.push(op) });
      await store.put('k', Buffer.from('x'));
      assert.equal(faulty.calls.put, 4);
      assert.deepEqual(retries, ['put', 'put', 'put']);

      faulty.plan.failNext = { get: 4 };
      await assert.rejects(store.get('k'), (err: PfsError) => err.code === 'PFS_ERR_OBJECT_STORE');
      assert.equal(faulty.calls.get, 4);
    });
  });

  it('never retries a missing object, a full store or a refused request', async () => {
    await withLocal(async (local) => {
      for (const code of ['PFS_ERR_OBJECT_MISSING', 'PFS_ERR_OBJECT_STORE_FULL', 'PFS_ERR_OBJECT_STORE_REJECTED'] as const) {
        const faulty = withFaults(local, { failNext: { put: 1 }, errorFor: () => new PfsError(code, 'injected') });
        const store = withRetry(faulty, fast, testLogger());
        await assert.rejects(store.put('k', Buffer.from('x')), (err: PfsError) => err.code === code);
        assert.equal(faulty.calls.put, 1, code);
      }
    });
  });

  it('an abort stops the retries', async () => {
    await withLocal(async (local) => {
      const faulty = withFaults(local, { failNext: { head: 100 } });
      const store = withRetry(faulty, { ...fast, limit: 100, delayMs: 50 }, testLogger());
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('stop')), 120);
      await assert.rejects(store.head('k', { signal: ac.signal }));
      assert.ok(faulty.calls.head < 10, `${faulty.calls.head} attempts`);
    });
  });

  it('a listing that fails midway resumes without repeating keys', async () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    let failOnce = true;
    const flaky: ObjectStore = {
      get: () => Promise.reject(new Error('unused')),
      put: () => Promise.reject(new Error('unused')),
      head: () => Promise.reject(new Error('unused')),
      delete: () => Promise.reject(new Error('unused')),
      async *list(): AsyncIterable<ObjectInfo> {
        for (const key of keys) {
          if (key === 'd' && failOnce) {
            failOnce = false;
            throw new PfsError('PFS_ERR_OBJECT_STORE', 'connection reset');
          }
          yield { key, sizeBytes: 1 };
        }
      },
      close: () => Promise.resolve(),
    };
    const seen: string[] = [];
    for await (const info of withRetry(flaky, fast, testLogger()).list('')) seen.push(info.key);
    assert.deepEqual(seen, keys);
  });
});
