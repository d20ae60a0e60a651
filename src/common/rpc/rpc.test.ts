import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsError } from '../errors/index.js';
import { createRpcClient, createRpcServer, type IncomingCall, type RpcDispatcher } from './index.js';
import { clientOptions, countingDispatcher, serverOptions, sleep, startPair, testLogger, waitFor } from './test-support.js';

test('call, reply, typed errors, thrown dispatch errors', async () => {
  let fail: unknown;
  const dispatcher: RpcDispatcher = {
    dispatch: (calls) => {
      if (fail) throw fail;
      return calls.map((c) => c.method === 'Missing'
        ? { error: { code: 'ENOENT', message: 'ENOENT: no such entry' } }
        : { result: { method: c.method, params: c.params, requestId: c.requestId } });
    },
  };
  const { client, close } = await startPair(dispatcher);
  try {
    assert.deepEqual(await client.call('Echo', { a: 1 }), { method: 'Echo', params: { a: 1 }, requestId: 1 });
    assert.deepEqual(await client.call('Echo', undefined), { method: 'Echo', params: null, requestId: 2 });
    await assert.rejects(client.call('Missing', {}), (err: FsError) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.message, 'ENOENT: no such entry');
      return true;
    });
    fail = new FsError('EROFS', 'read-only');
    await assert.rejects(client.call('Echo', {}), { code: 'EROFS' });
    fail = new Error('boom');
    await assert.rejects(client.call('Echo', {}), { code: 'PFS_ERR_INTERNAL' });
    await assert.rejects(client.call('Echo', { big: 10n }), { code: 'PFS_ERR_BAD_REQUEST' });
  } finally {
    await close();
  }
});

test('dispatcher bugs and unsendable replies become error replies, logged', async () => {
  const dispatcher: RpcDispatcher = {
    dispatch: (calls) => {
      if (calls[0].method === 'WrongCount') return [];
      return calls.map((c) => {
        if (c.method === 'Big') return { result: 'x'.repeat(2048) };
        if (c.method === 'BigInt') return { result: 1n };
        if (c.method === 'Malformed') return { nothing: true } as never;
        return { result: 'ok' };
      });
    },
  };
  const { client, log, close } = await startPair(dispatcher, { server: { maxFrameBytes: 1024 } });
  try {
    await assert.rejects(client.call('WrongCount', {}), { code: 'PFS_ERR_INTERNAL' });
    await assert.rejects(client.call('Big', {}), { code: 'PFS_ERR_RPC_PROTOCOL' });
    await assert.rejects(client.call('BigInt', {}), { code: 'PFS_ERR_INTERNAL' });
    await assert.rejects(client.call('Malformed', {}), { code: 'PFS_ERR_INTERNAL' });
    assert.equal(await client.call('Fine', {}), 'ok');
    assert.equal(log.at('error').length, 4, 'each server-side problem logged once');
    assert.ok(log.entries.every((e) => !JSON.stringify(e.obj).includes('xxxx')), 'results are never logged');
  } finally {
    await close();
  }
});

test('requests arriving together are dispatched as one batch; batches never overlap', async () => {
  let running = 0;
  let maxRunning = 0;
  const batches: IncomingCall[][] = [];
  const dispatcher: RpcDispatcher = {
    async dispatch(calls) {
      batches.push(calls);
      maxRunning = Math.max(maxRunning, ++running);
      await sleep(calls[0].method === 'Slow' ? 150 : 1);
      running--;
      return calls.map((c) => ({ result: c.params }));
    },
  };
  const { client, close } = await startPair(dispatcher);
  try {
    await client.connected();
    const slow = client.call('Slow', 0);
    await sleep(30); // Slow's batch is running now
    const rest = await Promise.all(Array.from({ length: 10 }, (_, i) => client.call('Fast', i + 1)));
    assert.deepEqual(rest, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(await slow, 0);
    assert.deepEqual(batches.map((b) => b.length), [1, 10]);
    assert.deepEqual(batches[1].map((c) => c.requestId), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal(maxRunning, 1);
  } finally {
    await close();
  }
});

test('upcalls reach the client; a disconnected client gets none; connection events', async () => {
  const events: string[] = [];
  const dispatcher = { ...countingDispatcher(), onClientConnection: (id: string, up: boolean) => events.push(`${id}:${up}`) };
  const { server, client, log, close } = await startPair(dispatcher, { client: { clientId: 'agent-1' } });
  try {
    const got: [string, unknown][] = [];
    client.onUpcall(() => { throw new Error('handler bug'); });
    client.onUpcall((method, params) => got.push([method, params]));
    await client.connected();
    assert.deepEqual(server.connectedClients(), ['agent-1']);
    assert.equal(server.upcall('agent-1', 'LeaseRevoke', { ino: 7 }), true);
    await waitFor(() => got.length === 1);
    assert.deepEqual(got, [['LeaseRevoke', { ino: 7 }]]);
    assert.equal(log.at('error').length, 1, 'the throwing handler is logged');
    assert.equal(server.upcall('nobody', 'LeaseRevoke', {}), false);
    await client.close();
    await waitFor(() => server.connectedClients().length === 0);
    assert.equal(server.upcall('agent-1', 'LeaseRevoke', {}), false);
    assert.deepEqual(events, ['agent-1:true', 'agent-1:false']);
  } finally {
    await close();
  }
});

test('deadline: a dispatcher that never answers', async () => {
  let release: () => void = () => {};
  const dispatcher: RpcDispatcher = {
    dispatch: (calls) => calls[0].method !== 'Hang'
      ? calls.map(() => ({ result: 'next' }))
      : new Promise((resolve) => { release = () => resolve(calls.map(() => ({ result: 'late' }))); }),
  };
  const { client, close } = await startPair(dispatcher, { client: { deadlineMs: 5000 } });
  try {
    const start = Date.now();
    await assert.rejects(client.call('Hang', {}, { deadlineMs: 200 }), (err: Error & { code: string }) => {
      assert.equal(err.code, 'PFS_ERR_RPC_DEADLINE');
      assert.match(err.message, /Hang \(request 1\) got no reply after \d+ ms; it may or may not have been executed/);
      return true;
    });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 190 && elapsed < 2000, `elapsed ${elapsed}`);
    const next = client.call('After', {});
    release(); // the late reply to request 1 is ignored; request 2 is answered
    assert.equal(await next, 'next');
  } finally {
    await close();
  }
});

test('deadline: server unreachable', async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const log = testLogger();
  const client = createRpcClient(clientOptions(log, port, { deadlineMs: 300 }));
  const start = Date.now();
  await assert.rejects(client.call('Nowhere', {}), { code: 'PFS_ERR_RPC_DEADLINE' });
  await assert.rejects(client.connected(100), { code: 'PFS_ERR_RPC_DEADLINE' });
  assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
  // The expectation is attached before close() so the rejection is never unhandled for a moment.
  const pendingRejects = assert.rejects(client.call('Pending', {}), { code: 'PFS_ERR_RPC_CLOSED' });
  await client.close(50);
  await pendingRejects;
  await assert.rejects(client.call('AfterClose', {}), { code: 'PFS_ERR_RPC_CLOSED' });
  assert.ok(log.at('debug').some((e) => e.msg === 'rpc reconnect scheduled'));
});

test('close(drainMs) lets outstanding calls finish', async () => {
  const { client, server } = await startPair(countingDispatcher(100));
  const call = client.call('Slow', 1);
  await sleep(20);
  await client.close(2000);
  assert.deepEqual(await call, { method: 'Slow', echo: 1 });
  await server.close();
});

test('a second connection with the same clientId replaces the first', async () => {
  const log = testLogger();
  const events: string[] = [];
  const server = await createRpcServer(serverOptions(log), {
    ...countingDispatcher(),
    onClientConnection: (id, up) => events.push(`${id}:${up}`),
  });
  const a = createRpcClient(clientOptions(log, server.port, { clientId: 'same' }));
  const b = createRpcClient(clientOptions(log, server.port, { clientId: 'same', reconnectDelayMs: 60_000, reconnectDelayCapMs: 60_000 }));
  try {
    await b.connected();
    await a.connected();
    assert.deepEqual(await a.call('X', 1), { method: 'X', echo: 1 });
    assert.deepEqual(server.connectedClients(), ['same']);
    assert.deepEqual(events, ['same:true', 'same:true']);
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

test('TLS: a call over a self-signed certificate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-rpc-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'k'), '-out', join(dir, 'c'),
    ], { stdio: 'ignore' });
    const certPem = readFileSync(join(dir, 'c'));
    const keyPem = readFileSync(join(dir, 'k'));
    const { server, client, log, close } = await startPair(countingDispatcher(), {
      server: { tls: { certPem, keyPem } },
      client: { tls: { caPem: certPem, serverName: 'localhost' } },
    });
    try {
      assert.deepEqual(await client.call('Secure', { x: 1 }), { method: 'Secure', echo: { x: 1 } });
      assert.ok(log.at('info').some((e) => e.msg === 'rpc server listening' && (e.obj as { tls: boolean }).tls));
      const untrusting = createRpcClient(clientOptions(log, server.port, { tls: { caPem: '', serverName: 'localhost' } }));
      await assert.rejects(untrusting.call('Secure', {}, { deadlineMs: 300 }), { code: 'PFS_ERR_RPC_DEADLINE' });
      await untrusting.close();
    } finally {
      await close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
