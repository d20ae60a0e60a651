/**
 * The server's bounds on what a peer can make it hold (docs/SECURITY.md §6): connections per
 * peer, a deadline per frame, a shared budget for big frames, JSON nesting, replies kept per
 * client, and no reading from a peer that does not read its replies. Each test also checks that
 * a well-behaved client is still served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createRpcClient, createRpcServer, encodeFrame, encodeRawFrame, FrameDecoder, FrameType, type Frame } from './index.js';
import { nestingExceeds } from './frame.js';
import { ClientReplyCache } from './reply-cache.js';
import { clientOptions, countingDispatcher, serverOptions, sleep, testLogger, waitFor } from './test-support.js';
import type { RpcDispatcher } from './types.js';

interface RawPeer {
  socket: net.Socket;
  frames: Frame[];
  closed: boolean;
}

async function rawPeer(port: number, hello?: string): Promise<RawPeer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const peer: RawPeer = { socket, frames: [], closed: false };
  const decoder = new FrameDecoder(1 << 24);
  socket.on('data', (b) => peer.frames.push(...decoder.push(b).frames));
  socket.on('error', () => {});
  socket.on('close', () => { peer.closed = true; });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  if (hello) socket.write(encodeFrame({ kind: 'hello', clientId: hello, version: 1 }));
  return peer;
}

/** Every connection is one peer, uid 7, except the ones whose clientId-less identity says otherwise. */
const samePeer = async () => ({ key: 'uid:7', uid: 7, address: 'test' });
const peers = { allowedUids: [7], allowUnauthenticated: false };

test('connections of one peer are capped; a closed one frees its place', async () => {
  const log = testLogger();
  const server = await createRpcServer(serverOptions(log, { peers, identifyPeer: samePeer, limits: { maxConnectionsPerPeer: 3 } }), countingDispatcher());
  const open: RawPeer[] = [];
  try {
    for (let i = 0; i < 3; i++) open.push(await rawPeer(server.port, `c${i}`));
    await waitFor(() => open.every((p) => p.frames.some((f) => f.kind === 'hello-ok')));
    const fourth = await rawPeer(server.port, 'c3');
    await waitFor(() => fourth.closed);
    const refused = fourth.frames.find((f) => f.kind === 'refused');
    assert.ok(refused && refused.kind === 'refused' && /MaxConnectionsPerPeer/.test(refused.error.message), JSON.stringify(fourth.frames));
    assert.equal(log.at('warn').filter((e) => /MaxConnectionsPerPeer/.test(e.msg ?? '')).length, 1, 'one log line');
    open[0]!.socket.destroy();
    await sleep(50);
    const again = await rawPeer(server.port, 'c4');
    await waitFor(() => again.frames.some((f) => f.kind === 'hello-ok'));
    open.push(again, fourth);
  } finally {
    for (const p of open) p.socket.destroy();
    await server.close();
  }
});

test('a frame that does not arrive whole within the frame deadline drops its connection; others are served', async () => {
  const log = testLogger();
  const server = await createRpcServer(serverOptions(log, { limits: { frameDeadlineMs: 200 } }), countingDispatcher());
  const good = createRpcClient(clientOptions(log, server.port));
  const slow = await rawPeer(server.port, 'slow');
  try {
    await waitFor(() => slow.frames.some((f) => f.kind === 'hello-ok'));
    const frame = encodeFrame({ kind: 'request', id: 1, ack: 0, method: 'Echo', params: { pad: 'x'.repeat(100) } });
    slow.socket.write(frame.subarray(0, 20));
    const started = Date.now();
    await waitFor(() => slow.closed, 3000);
    assert.ok(Date.now() - started < 2000);
    assert.ok(log.at('warn').some((e) => /not completed within 200 ms/.test(JSON.stringify(e.obj))));
    assert.deepEqual(await good.call('Echo', 1), { method: 'Echo', echo: 1 });
  } finally {
    slow.socket.destroy();
    await good.close();
    await server.close();
  }
});

test('big frames in progress share one budget: a peer that would exceed it is dropped, small calls go on', async () => {
  const log = testLogger();
  const server = await createRpcServer(serverOptions(log, { maxFrameBytes: 16 << 20, limits: { bigFrameBudgetBytes: 3 << 20 } }), countingDispatcher());
  const good = createRpcClient(clientOptions(log, server.port, { maxFrameBytes: 16 << 20 }));
  const a = await rawPeer(server.port, 'big-a');
  const b = await rawPeer(server.port, 'big-b');
  try {
    await waitFor(() => [a, b].every((p) => p.frames.some((f) => f.kind === 'hello-ok')));
    const header = (bytes: number) => {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(0x5046, 0); h.writeUInt8(1, 2); h.writeUInt8(FrameType.request, 3); h.writeUInt32BE(bytes, 4);
      return h;
    };
    a.socket.write(Buffer.concat([header(2 << 20), Buffer.from('{"id":1')]));
    await sleep(50);
    b.socket.write(Buffer.concat([header(2 << 20), Buffer.from('{"id":1')]));
    await waitFor(() => b.closed);
    assert.equal(a.closed, false, 'the first big frame keeps its budget');
    assert.ok(log.at('warn').some((e) => /budget for big frames/.test(JSON.stringify(e.obj))));
    assert.deepEqual(await good.call('Echo', 'small'), { method: 'Echo', echo: 'small' });
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    await good.close();
    await server.close();
  }
});

test('JSON nested deeper than the limit is refused before it is parsed', async () => {
  assert.equal(nestingExceeds(Buffer.from('{"a":[{"b":[1,2]}],"s":"[[[[[[[["}'), 4), false);
  assert.equal(nestingExceeds(Buffer.from('[[[[[1]]]]]'), 4), true);
  assert.equal(nestingExceeds(Buffer.from('{"s":"\\"[[[[[["}'), 2), false, 'escaped quotes keep the string open');
  const log = testLogger();
  const dispatcher = countingDispatcher();
  const server = await createRpcServer(serverOptions(log, { maxFrameBytes: 16 << 20 }), dispatcher);
  const deep = await rawPeer(server.port, 'deep');
  try {
    await waitFor(() => deep.frames.some((f) => f.kind === 'hello-ok'));
    const body = `{"id":1,"ack":0,"method":"Echo","params":${'['.repeat(4_000_000)}${']'.repeat(4_000_000)}}`;
    const started = performance.now();
    deep.socket.write(encodeRawFrame(FrameType.request, body));
    await waitFor(() => deep.closed, 5000);
    assert.ok(log.at('warn').some((e) => /nests deeper than/.test(JSON.stringify(e.obj))));
    assert.equal(dispatcher.executions.size, 0);
    assert.ok(performance.now() - started < 2000, 'refused without parsing');
  } finally {
    deep.socket.destroy();
    await server.close();
  }
});

test('the reply cache keeps at most its byte bound per client, oldest dropped first', () => {
  const c = new ClientReplyCache(100);
  for (let id = 1; id <= 3; id++) {
    c.begin(id);
    c.complete(id, { result: id }, 0, 40);
  }
  assert.equal(c.sizeBytes, 80);
  assert.deepEqual(c.lookup(1), { state: 'miss' });
  assert.deepEqual(c.lookup(3), { state: 'done', reply: { result: 3 } });
  c.acknowledge(3);
  assert.equal(c.sizeBytes, 0);
});

test('a peer that does not read its replies is not read from: what the server holds for it stays bounded', async () => {
  const log = testLogger();
  let executed = 0;
  const big: RpcDispatcher = { dispatch: (calls) => calls.map(() => { executed++; return { result: 'x'.repeat(64 << 10) }; }) };
  const server = await createRpcServer(serverOptions(log, { maxFrameBytes: 1 << 20, limits: { maxSendBufferBytes: 1 << 20 } }), big);
  const good = createRpcClient(clientOptions(log, server.port));
  const hog = await rawPeer(server.port, 'hog');
  try {
    await waitFor(() => hog.frames.some((f) => f.kind === 'hello-ok'));
    hog.socket.pause(); // never reads again
    const requests = Array.from({ length: 2000 }, (_, i) => encodeFrame({ kind: 'request', id: i + 1, ack: 0, method: 'Echo', params: i }));
    hog.socket.write(Buffer.concat(requests));
    await sleep(1500);
    assert.ok(executed <= 300, `the server stopped reading: ${executed} of 2000 executed`);
    assert.equal(typeof (await good.call('Echo', 1)), 'string');
  } finally {
    hog.socket.destroy();
    await good.close();
    await server.close();
  }
});
