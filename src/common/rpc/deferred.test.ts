/** Deferred replies: a dispatcher's promise answers its call later without holding up later batches. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RpcDispatcher, WireReply } from './index.js';
import { CutProxy, clientOptions, startPair, testLogger, waitFor } from './test-support.js';
import { createRpcClient } from './index.js';

function deferringDispatcher(): RpcDispatcher & { pending: Map<string, (r: WireReply) => void>; dispatched: string[] } {
  const pending = new Map<string, (r: WireReply) => void>();
  const dispatched: string[] = [];
  return {
    pending,
    dispatched,
    dispatch: (calls) => calls.map((c) => {
      dispatched.push(c.method);
      if (c.method === 'Wait') return new Promise<WireReply>((resolve) => pending.set(String((c.params as { key: string }).key), resolve));
      if (c.method === 'WaitFail') return Promise.reject(new Error('gave up'));
      return { result: c.method };
    }),
  };
}

test('a deferred reply does not hold up later batches and answers when it settles', async () => {
  const d = deferringDispatcher();
  const { client, close } = await startPair(d);
  try {
    const waiting = client.call('Wait', { key: 'a' });
    await waitFor(() => d.pending.has('a'));
    assert.equal(await client.call('Now', {}), 'Now', 'a later call is answered while the first waits');
    d.pending.get('a')!({ result: 'granted' });
    assert.equal(await waiting, 'granted');
    await assert.rejects(client.call('WaitFail', {}), { code: 'PFS_ERR_INTERNAL' });
  } finally {
    await close();
  }
});

test('a deferred call resent after a reconnect is not dispatched again and gets its one answer', async () => {
  const d = deferringDispatcher();
  const { server, close } = await startPair(d);
  const proxy = await new CutProxy(server.port).listen();
  const log = testLogger();
  const client = createRpcClient(clientOptions(log, proxy.port));
  try {
    const waiting = client.call('Wait', { key: 'b' });
    await waitFor(() => d.pending.has('b'));
    proxy.cut('client');
    await client.call('Now', {}); // reconnected; the Wait was resent
    d.pending.get('b')!({ result: 'late' });
    assert.equal(await waiting, 'late');
    assert.deepEqual(d.dispatched.filter((m) => m === 'Wait'), ['Wait']);
  } finally {
    await client.close();
    await proxy.close();
    await close();
  }
});
