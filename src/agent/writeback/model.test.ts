/**
 * Random overlapping writes, flushes and pauses against a byte-array model: at any moment the
 * Wrote calls made so far (replayed from the real objects in a local store) with pending()
 * laid over them give the model's bytes; after flushAll the Wrote calls alone do.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import fc from 'fast-check';
import { manualClock } from '../../common/clock/index.js';
import { openLocalStore } from '../../common/objectstore/index.js';
import { createWriteback, type Writeback } from './index.js';
import { delayingStore, fakeServer, FileModel, quietLog, replay, type FakeServer } from './test-helpers.js';

const INOS = [1, 2];

type Cmd =
  | { op: 'write'; ino: number; offset: number; length: number; seed: number }
  | { op: 'flush'; ino: number }
  | { op: 'check'; ino: number }
  | { op: 'pause'; ms: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), ino: fc.constantFrom(...INOS), offset: fc.nat(3000), length: fc.integer({ min: 1, max: 1500 }), seed: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const), ino: fc.constantFrom(...INOS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('check' as const), ino: fc.constantFrom(...INOS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 4 }) }) },
);

function bytes(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

async function check(w: Writeback, server: FakeServer, store: Parameters<typeof replay>[0], ino: number, expected: FileModel): Promise<void> {
  // One synchronous snapshot of what has been reported and what is pending.
  const calls = [...server.calls];
  const pending = w.pending(ino);
  const end = w.dirtyEnd(ino);
  const seen = await replay(store, calls, ino);
  for (const p of pending) seen.write(p.fileOffset, p.data);
  assert.deepEqual(seen.bytes, expected.bytes);
  assert.equal(end, pending.reduce((e, p) => Math.max(e, p.fileOffset + p.data.length), 0));
}

it('writeback matches a byte-array model under random overlapping writes', { timeout: 120_000 }, async () => {
  const settings = fc.record({
    maxFlushSizeBytes: fc.constantFrom(512, 2048, 8192),
    dirtySegmentLimit: fc.constantFrom(1, 2, 4),
    maxFlushTimeMs: fc.constantFrom(3, 3_600_000),
    putDelays: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }),
  });
  await fc.assert(fc.asyncProperty(settings, fc.array(cmd, { minLength: 1, maxLength: 40 }), async (o, cmds) => {
    const dir = await mkdtemp(join(tmpdir(), 'pfs-writeback-model-'));
    const local = openLocalStore(dir);
    let n = 0;
    const store = delayingStore(local, () => o.putDelays[n++ % o.putDelays.length]!);
    const server = fakeServer();
    const w = createWriteback({
      store, server, clock: manualClock(), log: quietLog, checksumBlockSizeBytes: 256,
      maxFlushSizeBytes: o.maxFlushSizeBytes, dirtySegmentLimit: o.dirtySegmentLimit, maxFlushTimeMs: o.maxFlushTimeMs,
    });
    const model = new Map(INOS.map((ino) => [ino, new FileModel()]));
    try {
      for (const c of cmds) {
        if (c.op === 'write') {
          const data = bytes(c.length, c.seed);
          await w.write(c.ino, c.offset, data);
          model.get(c.ino)!.write(c.offset, data);
        } else if (c.op === 'flush') {
          await w.flush(c.ino);
          assert.deepEqual(w.pending(c.ino), []);
        } else if (c.op === 'check') {
          await check(w, server, local, c.ino, model.get(c.ino)!);
        } else {
          await new Promise((r) => setTimeout(r, c.ms));
        }
      }
      await w.flushAll();
      for (const ino of INOS) {
        assert.deepEqual(w.pending(ino), []);
        assert.deepEqual((await replay(local, server.calls, ino)).bytes, model.get(ino)!.bytes);
      }
      assert.equal(w.stats().dirtyBytes, 0);
    } finally {
      await w.close();
      await local.close();
      await rm(dir, { recursive: true, force: true });
    }
  }), { numRuns: 60 });
});
