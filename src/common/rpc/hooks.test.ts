import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRpcClient, createRpcServer } from './index.js';
import type { RpcClientHooks } from './types.js';
import { clientOptions, countingDispatcher, CutProxy, serverOptions, sleep, testLogger, waitFor } from './test-support.js';

function recorder(): RpcClientHooks & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onCallDone: (method, seconds, code) => { assert.ok(seconds >= 0); events.push(`done ${method} ${code ?? 'ok'}`); },
    onResend: (method) => events.push(`resend ${method}`),
    onReconnect: () => events.push('reconnect'),
    onDeadline: (method) => events.push(`deadline ${method}`),
  };
}

test('client hooks: a reply, a resend after a cut, a reconnect, a deadline, a close', async () => {
  const log = testLogger();
  const dispatcher = countingDispatcher(150);
  const server = await createRpcServer(serverOptions(log), dispatcher);
  const proxy = await new CutProxy(server.port).listen();
  const hooks = recorder();
  const client = createRpcClient({ ...clientOptions(log, proxy.port), hooks });
  try {
    await client.call('First', {});
    assert.deepEqual(hooks.events, ['done First ok']);
    hooks.events.length = 0;

    const slow = client.call('Slow', {});
    await waitFor(() => dispatcher.executions.size === 2, 5000, 'Slow dispatched');
    proxy.cut('server');
    await slow;
    assert.deepEqual(hooks.events, ['reconnect', 'resend Slow', 'done Slow ok']);
    hooks.events.length = 0;

    proxy.dropReplies = true;
    await assert.rejects(client.call('Lost', {}, { deadlineMs: 50 }), { code: 'PFS_ERR_RPC_DEADLINE' });
    assert.deepEqual(hooks.events, ['deadline Lost', 'done Lost PFS_ERR_RPC_DEADLINE']);
    hooks.events.length = 0;

    const pending = client.call('Pending', {});
    await sleep(20);
    const rejected = assert.rejects(pending, { code: 'PFS_ERR_RPC_CLOSED' }); // attached before close()
    await client.close(0);
    await rejected;
    assert.deepEqual(hooks.events, ['done Pending PFS_ERR_RPC_CLOSED']);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});
