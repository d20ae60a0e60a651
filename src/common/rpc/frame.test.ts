import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeFrames, encodeFrame, encodeRawFrame, FRAME_HEADER_BYTES, FrameDecoder, FrameType, type Frame,
} from './index.js';
import { AckTracker } from './ack-tracker.js';
import { ClientReplyCache } from './reply-cache.js';

const MAX = 4096;

const samples: Frame[] = [
  { kind: 'hello', clientId: 'abc123', version: 1 },
  { kind: 'hello-ok', serverId: 'srv' },
  { kind: 'request', id: 1, ack: 0, method: 'GetAttr', params: { ino: 1, name: 'é✓' } },
  { kind: 'reply', id: 7, reply: { result: [1, 'two', null] } },
  { kind: 'reply', id: 8, reply: { error: { code: 'ENOENT', message: 'no such file' } } },
  { kind: 'upcall', method: 'LeaseRevoke', params: { ino: 5 } },
  { kind: 'ping' },
  { kind: 'pong' },
];

test('frames round-trip, whole and cut at every byte offset', () => {
  const stream = Buffer.concat(samples.map(encodeFrame));
  assert.deepEqual(decodeFrames(stream, MAX), { frames: samples });
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder(MAX);
    const a = d.push(stream.subarray(0, cut));
    const b = d.push(stream.subarray(cut));
    assert.equal(a.error ?? b.error, undefined);
    assert.deepEqual([...a.frames, ...b.frames], samples);
  }
  const d = new FrameDecoder(MAX);
  const oneByOne = [...stream].flatMap((byte) => d.push(Buffer.from([byte])).frames);
  assert.deepEqual(oneByOne, samples);
});

test('protocol errors are reported, not thrown, and stick', () => {
  const header = (magic: number, version: number, type: number, len: number): Buffer => {
    const h = Buffer.alloc(FRAME_HEADER_BYTES);
    h.writeUInt16BE(magic, 0); h.writeUInt8(version, 2); h.writeUInt8(type, 3); h.writeUInt32BE(len, 4);
    return h;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['bad magic', header(0x1234, 1, 3, 2), /bad magic/],
    ['bad version', header(0x5046, 2, 3, 2), /frame version/],
    ['unknown type', header(0x5046, 1, 99, 2), /unknown frame type 99/],
    ['oversize', header(0x5046, 1, 3, MAX + 1), /exceeds maxFrameBytes/],
    ['bad json', encodeRawFrame(FrameType.request, '{"id":'), /invalid JSON/],
    ['not an object', encodeRawFrame(FrameType.request, '[1,2]'), /not an object/],
    ['bad id', encodeRawFrame(FrameType.request, '{"id":0,"ack":0,"method":"m","params":null}'), /bad id/],
    ['bad ack', encodeRawFrame(FrameType.request, '{"id":1,"ack":-1,"method":"m"}'), /bad ack/],
    ['bad client id', encodeRawFrame(FrameType.hello, '{"clientId":"a b\\n","version":1}'), /bad clientId/],
    ['reply without result', encodeRawFrame(FrameType.reply, '{"id":1}'), /neither result nor error/],
    ['reply bad error', encodeRawFrame(FrameType.reply, '{"id":1,"error":{"code":5}}'), /bad error/],
  ];
  for (const [name, bytes, re] of cases) {
    const d = new FrameDecoder(MAX);
    const ok = encodeFrame({ kind: 'ping' });
    const r = d.push(Buffer.concat([ok, bytes]));
    assert.equal(r.frames.length, 1, name);
    assert.equal(r.error?.code, 'PFS_ERR_RPC_PROTOCOL', name);
    assert.match(r.error.message, re, name);
    assert.deepEqual(d.push(ok).frames, [], `${name}: decoder stays failed`);
  }
});

test('fuzz: random bytes never throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const d = new FrameDecoder(MAX);
      for (const c of chunks) {
        const r = d.push(Buffer.from(c));
        assert.ok(Array.isArray(r.frames));
        if (r.error) assert.equal(r.error.code, 'PFS_ERR_RPC_PROTOCOL');
      }
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: mutated valid streams yield frames or a protocol error', () => {
  const stream = Buffer.concat(samples.map(encodeFrame));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(stream.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(stream.length), { maxLength: 5 }),
      (flips, cuts) => {
        const bytes = Buffer.from(stream);
        for (const [at, value] of flips) bytes[at] = value;
        const d = new FrameDecoder(MAX);
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        let frames = 0;
        for (let i = 1; i < points.length; i++) {
          const r = d.push(bytes.subarray(points[i - 1], points[i]));
          frames += r.frames.length;
          if (r.error) assert.equal(r.error.code, 'PFS_ERR_RPC_PROTOCOL');
        }
        assert.ok(frames <= samples.length);
      },
    ),
    { numRuns: 5000 },
  );
});

test('AckTracker advances only over consecutive finished ids', () => {
  const a = new AckTracker();
  a.finish(2); a.finish(3);
  assert.equal(a.ack, 0);
  a.finish(1);
  assert.equal(a.ack, 3);
  a.finish(5);
  assert.equal(a.ack, 3);
  a.finish(4);
  assert.equal(a.ack, 5);
  a.finish(2);
  assert.equal(a.ack, 5);
});

test('ClientReplyCache: in-flight, ack trimming, TTL, late completion under ack', () => {
  const c = new ClientReplyCache();
  c.begin(1);
  assert.deepEqual(c.lookup(1), { state: 'in-flight' });
  c.complete(1, { result: 'a' }, 0);
  c.complete(2, { result: 'b' }, 10);
  assert.deepEqual(c.lookup(1), { state: 'done', reply: { result: 'a' } });
  assert.equal(c.acknowledge(1), true);
  assert.equal(c.acknowledge(1), false);
  assert.deepEqual(c.lookup(1), { state: 'miss' });
  c.expire(100, 50);
  assert.deepEqual(c.lookup(2), { state: 'miss' });
  c.begin(3);
  c.acknowledge(3);
  c.complete(3, { result: 'late' }, 200);
  assert.deepEqual(c.lookup(3), { state: 'miss' });
  assert.equal(c.isEmpty, true);
});
