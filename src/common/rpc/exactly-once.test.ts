import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRpcClient, createRpcServer, type RpcClient, type RpcDispatcher, type WireReply } from './index.js';
import { clientOptions, countingDispatcher, CutProxy, serverOptions, sleep, testLogger, waitFor } from './test-support.js';

/** Runs `workers` loops of sequential calls (total `calls`), all checked against their echo. */
async function stream(client: RpcClient, calls: number, workers: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < calls) {
      const n = next++;
      assert.deepEqual(await client.call('Echo', { n }), { method: 'Echo', echo: { n } });
    }
  }));
}

function assertExactlyOnce(executions: Map<string, number>, clientId: string, calls: number): void {
  const mine = [...executions].filter(([k]) => k.startsWith(`${clientId}:`));
  assert.equal(mine.length, calls, 'every request executed');
  for (const [key, count] of mine) assert.equal(count, 1, `${key} executed ${count} times`);
}

for (const side of ['server', 'client'] as const) {
  test(`exactly once: 500 calls while ${side}-side sockets are cut repeatedly`, async () => {
    const log = testLogger();
    const dispatcher = countingDispatcher(2); // cuts land both between and during batches
    const server = await createRpcServer(serverOptions(log), dispatcher);
    const proxy = await new CutProxy(server.port).listen();
    const client = createRpcClient(clientOptions(log, proxy.port));
    let cuts = 0;
    let done = false;
    const cutter = (async () => {
      while (!done) {
        await sleep(3 + Math.random() * 10);
        if (proxy.connections > 0) { proxy.cut(side); cuts++; }
      }
    })();
    try {
      await stream(client, 250, 25); // concurrent
      await stream(client, 250, 1); // sequential
    } finally {
      done = true;
      await cutter;
    }
    assertExactlyOnce(dispatcher.executions, client.clientId, 500);
    assert.ok(cuts >= 5, `only ${cuts} cuts`);
    const resent = log.at('info').filter((e) => e.msg === 'rpc connected' && (e.obj as { resent: number }).resent > 0);
    assert.ok(resent.length >= 3, `only ${resent.length} reconnects resent requests`);
    await client.close();
    await proxy.close();
    await server.close();
  });
}

test('exactly once: a cut while the request executes; the resend joins the in-flight call', async () => {
  const log = testLogger();
  const dispatcher = countingDispatcher(150);
  const server = await createRpcServer(serverOptions(log), dispatcher);
  const proxy = await new CutProxy(server.port).listen();
  const client = createRpcClient(clientOptions(log, proxy.port));
  try {
    await client.connected();
    for (let round = 0; round < 3; round++) {
      const calls = Array.from({ length: 5 }, (_, i) => client.call('Slow', { round, i }));
      await waitFor(() => dispatcher.batches.length === round + 1, 2000, 'dispatch');
      proxy.cut(round % 2 === 0 ? 'server' : 'client');
      await sleep(20); // reconnected and resent while the batch still runs
      const results = await Promise.all(calls);
      results.forEach((r, i) => assert.deepEqual(r, { method: 'Slow', echo: { round, i } }));
    }
    assertExactlyOnce(dispatcher.executions, client.clientId, 15);
    const resent = log.at('info').filter((e) => e.msg === 'rpc connected').map((e) => (e.obj as { resent: number }).resent);
    assert.deepEqual(resent, [0, 5, 5, 5]);
    assert.deepEqual(dispatcher.batches, [5, 5, 5]);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test('durable replies answer a resend after a server restart, without dispatching', async () => {
  const log = testLogger();
  const durable = new Map<string, WireReply>();
  const trims: number[] = [];
  const executions = new Map<string, number>();
  const makeDispatcher = (): RpcDispatcher => ({
    dispatch(calls) {
      return calls.map((c) => {
        const key = `${c.clientId}:${c.requestId}`;
        executions.set(key, (executions.get(key) ?? 0) + 1);
        const reply = { result: { done: c.params } };
        durable.set(key, reply); // committed with the operation
        return reply;
      });
    },
    durableReplies: {
      get: (clientId, requestId) => durable.get(`${clientId}:${requestId}`),
      trim: (clientId, ackedUpTo) => {
        trims.push(ackedUpTo);
        for (const key of durable.keys()) {
          const [id, req] = key.split(':');
          if (id === clientId && Number(req) <= ackedUpTo) durable.delete(key);
        }
      },
    },
  });
  const first = await createRpcServer(serverOptions(log), makeDispatcher());
  const port = first.port;
  const proxy = await new CutProxy(port).listen();
  const client = createRpcClient(clientOptions(log, proxy.port));
  try {
    assert.deepEqual(await client.call('Op', 1), { done: 1 });
    proxy.dropReplies = true; // the reply to the next call is lost on the way back
    const lost = client.call('Op', 2);
    await waitFor(() => executions.size === 2, 2000, 'execution of request 2');
    await first.close();
    proxy.dropReplies = false;
    const second = await createRpcServer(serverOptions(log, { port }), makeDispatcher());
    try {
      assert.deepEqual(await lost, { done: 2 }, 'answered from the durable store');
      assert.deepEqual([...executions.values()], [1, 1]);
      assert.deepEqual(await client.call('Op', 3), { done: 3 });
      assert.ok(trims.includes(2), `durable replies trimmed up to the ack (${trims})`);
      assert.deepEqual([...durable.keys()], [`${client.clientId}:3`]);
    } finally {
      await client.close();
      await second.close();
    }
  } finally {
    await proxy.close();
  }
});

test('server restart: calls issued while it is down complete after it comes back', async () => {
  const log = testLogger();
  const first = await createRpcServer(serverOptions(log), countingDispatcher());
  const port = first.port;
  const client = createRpcClient(clientOptions(log, port, { reconnectDelayMs: 10, reconnectDelayCapMs: 40 }));
  assert.deepEqual(await client.call('A', 1), { method: 'A', echo: 1 });
  await first.close();
  const pending = Array.from({ length: 20 }, (_, i) => client.call('B', i));
  await sleep(150);
  const second = await createRpcServer(serverOptions(log, { port }), countingDispatcher());
  try {
    const results = await Promise.all(pending);
    results.forEach((r, i) => assert.deepEqual(r, { method: 'B', echo: i }));
    assert.ok(log.at('info').filter((e) => e.msg === 'rpc connected').length >= 2);
  } finally {
    await client.close();
    await second.close();
  }
});
