import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { objectKey } from '../../common/protocol/index.js';
import { fsckData } from './index.js';
import { volume, writeObject, type Vol } from './test-fixtures.js';

describe('fsckData', () => {
  let v: Vol;
  let a: number;
  beforeEach(async () => {
    v = await volume();
    a = await writeObject(v, 1, randomBytes(70_000), [[0, 70_000, 0]]);
    await writeObject(v, 2, randomBytes(100), [[0, 50, 0]]); // b
    const [pending] = v.md.transaction(() => v.extents.provision(1));
    await v.store.put(pending!.key, Buffer.from('upload in progress')); // provisioned: expected
    await writeObject(v, 2, randomBytes(100), [[0, 100, 0]]); // b dead, its key still stored: expected
  });
  afterEach(() => v.cleanup());

  const fsck = (verifyChecksums = false) => fsckData(v.md, v.extents, v.store, { verifyChecksums });

  it('finds nothing wrong in a consistent volume', async () => {
    assert.deepEqual(await fsck(true), { missing: [], leaked: [], badLiveBytes: [], checksumErrors: [], unstoredBytes: 0, problems: [] });
  });

  it('reports an object deleted from the store as missing', async () => {
    await v.store.delete(objectKey(a));
    const r = await fsck();
    assert.deepEqual(r.missing, [{ objectId: a, key: objectKey(a), extentBytes: 70_000 }]);
    assert.equal(r.problems.length, 1);
  });

  it('reports stray keys as leaked', async () => {
    await v.store.put(objectKey(9999), Buffer.from('stray'));
    await v.store.put('not-a-segment', Buffer.from('junk!!'));
    const r = await fsck();
    assert.deepEqual(r.leaked.sort((x, y) => x.key.localeCompare(y.key)), [{ key: objectKey(9999), sizeBytes: 5 }, { key: 'not-a-segment', sizeBytes: 6 }].sort((x, y) => x.key.localeCompare(y.key)));
    assert.equal(r.missing.length, 0);
    assert.equal(r.problems.length, 2);
  });

  it('reports live_bytes that disagree with the extents', async () => {
    v.md.db.prepare('UPDATE objects SET live_bytes = live_bytes + 1 WHERE object_id = ?').run(a);
    const r = await fsck();
    assert.deepEqual(r.badLiveBytes, [{ objectId: a, key: objectKey(a), liveBytes: 70_001, extentBytes: 70_000 }]);
  });

  it('with verifyChecksums, finds a corrupted block and a truncated object', async () => {
    const bytes = await v.store.get(objectKey(a));
    bytes[66_000] = (bytes[66_000]! + 1) & 0xff;
    await v.store.put(objectKey(a), bytes);
    assert.deepEqual((await fsck()).checksumErrors, []);
    const r = await fsck(true);
    assert.deepEqual(r.checksumErrors, [{ objectId: a, key: objectKey(a), message: 'CRC32 mismatch in block(s) 1' }]);
    await v.store.put(objectKey(a), bytes.subarray(0, 100));
    const t = await fsck(true);
    assert.match(t.checksumErrors[0]!.message, /100 bytes read/);
    assert.ok(t.problems.some((p) => /is 100 bytes in the store/.test(p)));
  });
});
