import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { BlockCrc32, badBlocks, blockCrc32s, blockCrc32sOffThread } from './index.js';
import { nativeAddon } from '../native/addon.js';

test('block CRC32s of a list of parts equal those of the joined bytes, however the parts are cut', () => {
  const data = randomBytes(300_001);
  const whole: number[] = [];
  for (let off = 0; off < data.length; off += 65_536) whole.push(crc32(data.subarray(off, off + 65_536)));
  assert.deepEqual(blockCrc32s(data, 65_536), whole);
  for (const cuts of [[], [1], [65_536], [65_535, 65_537], [100, 70_000, 200_000, 299_999]]) {
    const parts: Buffer[] = [];
    let at = 0;
    for (const c of [...cuts, data.length]) { parts.push(data.subarray(at, c)); at = c; }
    assert.deepEqual(blockCrc32s(parts, 65_536), whole, `cuts ${cuts}`);
  }
  assert.deepEqual(blockCrc32s([], 65_536), []);
});

test('badBlocks names exactly the corrupted blocks', () => {
  const data = randomBytes(200_000);
  const crcs = blockCrc32s(data, 65_536);
  assert.deepEqual(badBlocks(data, 0, 65_536, crcs), []);
  const bad = Buffer.from(data);
  bad[70_000]! ^= 1;
  assert.deepEqual(badBlocks(bad, 0, 65_536, crcs), [1]);
  assert.deepEqual(badBlocks(bad.subarray(65_536, 131_072), 1, 65_536, crcs), [1]);
});

test('BlockCrc32 fed in pieces lists the CRC32s of the bytes so far, the last block short', () => {
  const data = randomBytes(200_000);
  const acc = new BlockCrc32(65_536);
  assert.deepEqual(acc.list(), []);
  let at = 0;
  for (const n of [1, 65_535, 70_000, 3, 64_461]) {
    acc.update(data.subarray(at, at + n));
    at += n;
    assert.deepEqual(acc.list(), blockCrc32s(data.subarray(0, at), 65_536), `after ${at} bytes`);
  }
  assert.equal(acc.sizeBytes, at);
  assert.throws(() => new BlockCrc32(0), RangeError);
});

test('BlockCrc32 with whole blocks on the thread pool (blockCrc32sOffThread) settles to what it lists hashing here, however the parts are cut', async () => {
  assert.ok(process.platform !== 'linux' || nativeAddon(), 'the native addon is built on Linux (make build)');
  const data = randomBytes(700_001);
  for (const block of [1, 4096, 65_536, 1 << 20]) {
    for (const cuts of [[], [1], [65_536], [65_535, 65_537, 65_538], [100, 70_000, 200_000, 699_999], [131_072, 262_144, 655_360]]) {
      const acc = new BlockCrc32(block, blockCrc32sOffThread);
      let at = 0;
      for (const c of [...cuts, data.length]) {
        acc.update(data.subarray(at, c));
        at = c;
        if (block === 65_536) assert.deepEqual(await acc.settled(), blockCrc32s(data.subarray(0, at), block), `block ${block} cuts ${cuts} at ${at}`);
      }
      assert.deepEqual(await acc.settled(), blockCrc32s(data, block), `block ${block} cuts ${cuts}`);
    }
  }
  assert.deepEqual(await new BlockCrc32(65_536, blockCrc32sOffThread).settled(), []);
  assert.deepEqual(await blockCrc32sOffThread(data.subarray(0, 0), 4096), []);
  assert.deepEqual(await blockCrc32sOffThread(data, 100_000), blockCrc32s(data, 100_000));
});
