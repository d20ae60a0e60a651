import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createRpcClient, createRpcServer, encodeFrame, encodeRawFrame, FrameDecoder, FrameType, type Frame } from './index.js';
import { clientOptions, countingDispatcher, serverOptions, testLogger, waitFor } from './test-support.js';

/** A raw socket to the server that records the frames it receives and when it closed. */
async function rawPeer(port: number): Promise<{ socket: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (b) => frames.push(...decoder.push(b).frames));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, frames, closed };
}

const hello = (clientId: string): Buffer => encodeFrame({ kind: 'hello', clientId, version: 1 });
const request = encodeFrame({ kind: 'request', id: 1, ack: 0, method: 'Echo', params: {} });

test('malformed input closes that connection only; others keep being served', async () => {
  const log = testLogger();
  const dispatcher = countingDispatcher();
  const server = await createRpcServer(serverOptions(log, { maxFrameBytes: 1024 }), dispatcher);
  const good = createRpcClient(clientOptions(log, server.port, { maxFrameBytes: 1024 }));
  const oversize = Buffer.alloc(8);
  oversize.writeUInt16BE(0x5046, 0); oversize.writeUInt8(1, 2); oversize.writeUInt8(3, 3); oversize.writeUInt32BE(1025, 4);
  const unknownType = encodeRawFrame(42, '{}');
  const cases: [string, Buffer[], RegExp][] = [
    ['garbage', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], /bad magic/],
    ['oversize length', [oversize], /exceeds maxFrameBytes/],
    ['unknown type', [unknownType], /unknown frame type 42/],
    ['bad JSON', [encodeRawFrame(FrameType.hello, '{"clientId":')], /invalid JSON/],
    ['wrong shape', [hello('shape'), encodeRawFrame(FrameType.request, '{"id":"one","ack":0,"method":"m"}')], /bad id/],
    ['request before hello', [request], /request before hello/],
    ['bad protocol version', [encodeFrame({ kind: 'hello', clientId: 'v', version: 9 })], /protocol version 9/],
    ['reply from a client', [hello('r'), encodeFrame({ kind: 'reply', id: 1, reply: { result: 1 } })], /unexpected reply/],
    ['second hello', [hello('twice'), hello('twice')], /second hello/],
  ];
  try {
    assert.deepEqual(await good.call('Echo', 0), { method: 'Echo', echo: 0 });
    for (const [name, chunks, reason] of cases) {
      const warnsBefore = log.at('warn').length;
      const peer = await rawPeer(server.port);
      for (const c of chunks) peer.socket.write(c);
      await peer.closed;
      const warns = log.at('warn').slice(warnsBefore);
      assert.equal(warns.length, 1, name);
      const fields = warns[0].obj as { remote: string; reason: string };
      assert.match(fields.reason, reason, name);
      assert.match(fields.remote, /^127\.0\.0\.1:\d+$/, name);
      assert.deepEqual(await good.call('Echo', name), { method: 'Echo', echo: name }, `${name}: good client still served`);
    }
    assert.equal(dispatcher.executions.size, cases.length + 1, 'no malformed request was dispatched');
    assert.deepEqual(server.connectedClients(), [good.clientId]);
  } finally {
    await good.close();
    await server.close();
  }
});

test('a request id at or below the acknowledged one is refused, not executed', async () => {
  const log = testLogger();
  const dispatcher = countingDispatcher();
  const server = await createRpcServer(serverOptions(log), dispatcher);
  const peer = await rawPeer(server.port);
  try {
    peer.socket.write(hello('acker'));
    peer.socket.write(encodeFrame({ kind: 'request', id: 1, ack: 0, method: 'Echo', params: 1 }));
    await waitFor(() => peer.frames.length === 2);
    peer.socket.write(encodeFrame({ kind: 'request', id: 1, ack: 1, method: 'Echo', params: 1 }));
    await waitFor(() => peer.frames.length === 3);
    const last = peer.frames[2];
    assert.equal(last.kind === 'reply' && 'error' in last.reply && last.reply.error.code, 'PFS_ERR_RPC_PROTOCOL');
    assert.equal(dispatcher.executions.get('acker:1'), 1);
  } finally {
    peer.socket.destroy();
    await server.close();
  }
});

test('keepalive: the server drops a peer that said HELLO and then went silent', async () => {
  const log = testLogger();
  const events: string[] = [];
  const server = await createRpcServer(serverOptions(log, { keepAliveMs: 200 }), {
    ...countingDispatcher(),
    onClientConnection: (id, up) => events.push(`${id}:${up}`),
  });
  try {
    const peer = await rawPeer(server.port);
    peer.socket.write(hello('mute'));
    const start = Date.now();
    await peer.closed;
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 350 && elapsed < 3000, `dropped after ${elapsed} ms`);
    assert.ok(peer.frames.some((f) => f.kind === 'ping'), 'the server pinged first');
    await waitFor(() => events.length === 2);
    assert.deepEqual(events, ['mute:true', 'mute:false']);
  } finally {
    await server.close();
  }
});

test('keepalive: the client drops a server that stopped answering and reconnects', async () => {
  const log = testLogger();
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const mute = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.write(encodeFrame({ kind: 'hello-ok', serverId: 'mute' })); // then never a byte more
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const port = (mute.address() as net.AddressInfo).port;
  const client = createRpcClient(clientOptions(log, port, { keepAliveMs: 200 }));
  try {
    await client.connected();
    await waitFor(() => accepted >= 2, 3000, 'a reconnect');
    assert.ok(log.at('warn').some((e) => e.msg === 'rpc peer silent too long, dropping connection'));
  } finally {
    await client.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => mute.close(() => resolve()));
  }
});

test('a socket that connects and never says HELLO is closed', async () => {
  const log = testLogger();
  const server = await createRpcServer(serverOptions(log, { keepAliveMs: 100 }), countingDispatcher());
  try {
    const peer = await rawPeer(server.port);
    peer.socket.on('data', () => peer.socket.write(encodeFrame({ kind: 'pong' })));
    await peer.closed;
    assert.ok(log.at('warn').some((e) => /no hello/.test((e.obj as { reason?: string }).reason ?? '')));
  } finally {
    await server.close();
  }
});
