import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { objectKey } from '../../common/protocol/index.js';
import { withFaults } from '../../common/objectstore/index.js';
import { CHECKSUM_BLOCK_SIZE_BYTES } from '../extents/index.js';
import { startGc, type Gc } from './index.js';
import { objectRow, storeKeys, volume, writeObject, type Vol } from './test-fixtures.js';

const MS = 1_000_000n;

describe('gc deleter', () => {
  let v: Vol;
  let gc: Gc | undefined;
  let kicks = 0;
  beforeEach(async () => { kicks = 0; v = await volume({ onObjectDead: () => { kicks++; gc?.kick(); } }); });
  afterEach(async () => { await gc?.close(); gc = undefined; await v.cleanup(); });

  it('deletes a dead object only once it has been dead for the delay, then forgets it', async () => {
    gc = startGc(v.gcOptions({ deadObjectDeleteDelayMs: 1000, compactionIntervalMs: 0 }));
    const a = await writeObject(v, 1, randomBytes(100), [[0, 100, 0]]);
    const b = await writeObject(v, 1, randomBytes(100), [[0, 100, 0]]);
    assert.equal(objectRow(v, a)?.state, 'dead');
    assert.equal(kicks, 1);
    v.clock.ns += 999n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 0 });
    assert.deepEqual((await storeKeys(v)).sort(), [objectKey(a), objectKey(b)].sort());
    v.clock.ns += 1n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 1, compacted: 0, expired: 0 });
    assert.deepEqual(await storeKeys(v), [objectKey(b)]);
    assert.equal(objectRow(v, a), undefined);
    assert.equal(objectRow(v, b)?.state, 'live');
    assert.equal(gc.stats().deletedObjects, 1);
  });

  it('logs a failed delete, keeps the row, and retries next round', async () => {
    const faulty = withFaults(v.store, { failNext: { delete: 1 } });
    gc = startGc(v.gcOptions({ store: faulty, deadObjectDeleteDelayMs: 0, compactionIntervalMs: 0 }));
    const a = await writeObject(v, 1, randomBytes(10), [[0, 10, 0]]);
    v.md.transaction(() => v.extents.drop(1));
    assert.equal((await gc.runOnce()).deleted, 0);
    assert.equal(objectRow(v, a)?.state, 'dead');
    assert.ok(v.log.lines.some((l) => l.level === 'warn'));
    assert.equal(gc.stats().storeErrors, 1);
    assert.equal((await gc.runOnce()).deleted, 1);
    assert.equal(objectRow(v, a), undefined);
    assert.deepEqual(await storeKeys(v), []);
  });

  it('expires provisioned objects never reported, and refuses their late Wrote', async () => {
    gc = startGc(v.gcOptions({ provisionedObjectTtlMs: 60_000, compactionIntervalMs: 0 }));
    const [{ objectId, key }] = v.md.transaction(() => v.extents.provision(1)) as [{ objectId: number; key: string }];
    await v.store.put(key, Buffer.from('uploaded, never reported'));
    v.clock.ns += 59_999n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 0 });
    v.clock.ns += 1n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 1 });
    assert.deepEqual(await storeKeys(v), []);
    assert.equal(objectRow(v, objectId), undefined);
    const late = { objectId, sizeBytes: 1, blockSizeBytes: CHECKSUM_BLOCK_SIZE_BYTES, crc32: [0] };
    assert.throws(() => v.md.transaction(() => v.extents.wrote(1, late, [{ fileOffset: 0, length: 1, objectId, objectOffset: 0 }])), { code: 'PFS_ERR_STALE_OBJECT' });
  });

  it('objects provisioned for a live mount never expire; after the mount ends the TTL counts from its end', async () => {
    gc = startGc(v.gcOptions({ provisionedObjectTtlMs: 60_000, compactionIntervalMs: 0 }));
    v.md.db.prepare("INSERT INTO mounts(mount_id, client_id, created_ns) VALUES ('m1', 'c1', 0)").run();
    const [{ objectId }] = v.md.transaction(() => v.extents.provision(1, 'm1')) as [{ objectId: number; key: string }];
    v.clock.ns += 10n * 60_000n * MS; // ten TTLs with the mount live
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 0 });
    assert.equal(objectRow(v, objectId)?.state, 'provisioned');
    v.md.transaction(() => {
      v.md.db.prepare("DELETE FROM mounts WHERE mount_id = 'm1'").run();
      v.extents.disownProvisioned('m1');
    });
    v.clock.ns += 59_999n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 0 });
    v.clock.ns += 1n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 1 });
    assert.equal(objectRow(v, objectId), undefined);
  });

  it('objects of a mount that is evicted, or whose row is gone, expire by their age', async () => {
    gc = startGc(v.gcOptions({ provisionedObjectTtlMs: 60_000, compactionIntervalMs: 0 }));
    v.md.db.prepare("INSERT INTO mounts(mount_id, client_id, created_ns, evicted_ns) VALUES ('m1', 'c1', 0, 1)").run();
    v.md.transaction(() => { v.extents.provision(1, 'm1'); v.extents.provision(1, 'gone'); });
    v.clock.ns += 60_000n * MS;
    assert.deepEqual(await gc.runOnce(), { deleted: 0, compacted: 0, expired: 2 });
  });

  it('a kick runs a round without waiting for the interval', async () => {
    gc = startGc(v.gcOptions({ deadObjectDeleteDelayMs: 0, gcIntervalMs: 3_600_000, compactionIntervalMs: 0 }));
    const a = await writeObject(v, 1, randomBytes(10), [[0, 10, 0]]);
    v.md.transaction(() => v.extents.truncate(1, 10, 0));
    for (let i = 0; i < 200 && objectRow(v, a) !== undefined; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(objectRow(v, a), undefined);
    assert.deepEqual(await storeKeys(v), []);
  });

  it('the interval timer runs rounds; close waits for the one in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow = { ...v.store, delete: async (key: string) => { await gate; return v.store.delete(key); } };
    gc = startGc(v.gcOptions({ store: slow, deadObjectDeleteDelayMs: 0, gcIntervalMs: 10, compactionIntervalMs: 0 }));
    const a = await writeObject(v, 1, randomBytes(10), [[0, 10, 0]]);
    v.md.transaction(() => v.extents.drop(1));
    for (let i = 0; i < 200 && !gc.stats().running; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(gc.stats().running);
    const closing = gc.close();
    release();
    await closing;
    assert.equal(gc.stats().running, false);
    assert.equal(objectRow(v, a), undefined);
    await assert.rejects(gc.runOnce(), { code: 'PFS_ERR_INTERNAL' });
    gc.kick();
  });
});
