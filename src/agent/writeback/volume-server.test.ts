/**
 * Writeback and read cache against a real volume server, in-process on a loopback port: write
 * overlapping data, flush, then fetch the extent map and read every byte back through the read
 * cache; a corrupted object byte is then caught by the CRC32 check.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { it } from 'node:test';
import { systemClock } from '../../common/clock/index.js';
import { openObjectStore } from '../../common/objectstore/index.js';
import { O_RDWR, ROOT_INO, type ExtentMapChunk, type Method, type ObjectChecksums, type Params, type Result } from '../../common/protocol/index.js';
import { createRpcClient, type RpcClient } from '../../common/rpc/index.js';
import { formatVolume } from '../../volume/admin/format.js';
import { startVolumeServer, type VolumeSettings } from '../../volume/server/index.js';
import { createReadCache, type ReadCache } from '../readcache/index.js';
import { createWriteback, type SegmentServer } from './index.js';
import { FileModel, quietLog } from './test-helpers.js';

const root = { uid: 0, gid: 0, groups: [] };

function call<M extends Method>(c: RpcClient, m: M, p: Params<M>): Promise<Result<M>> {
  return c.call(m, p) as Promise<Result<M>>;
}

/** Every byte [0, size) of ino: extent map chunks from the server, data through the read cache. */
async function readFile(c: RpcClient, mountId: string, ino: number, cache: ReadCache): Promise<Buffer> {
  const parts: Buffer[] = [];
  let at = 0;
  let size = Infinity;
  while (at < size) {
    const chunk: ExtentMapChunk = await call(c, 'FetchExtentMapChunk', { cred: root, mountId, ino, fileOffset: at, maxEntriesFrom: 4, maxEntriesBefore: 0 });
    size = chunk.size;
    const objects = new Map<number, ObjectChecksums>(chunk.objects.map((o) => [o.objectId, o]));
    for (const e of chunk.extents) {
      if (e.fileOffset > at) parts.push(Buffer.alloc(e.fileOffset - at));
      parts.push(await cache.read(objects.get(e.objectId)!, e.objectOffset, e.length));
      at = e.fileOffset + e.length;
    }
    const end = Math.min(chunk.rangeEnd, size);
    if (end > at) parts.push(Buffer.alloc(end - at));
    at = Math.max(at, end);
  }
  return Buffer.concat(parts);
}

it('writes through a real volume server and reads the bytes back verified', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfs-writeback-volume-'));
  const clock = systemClock();
  const settings: VolumeSettings = {
    name: 'WbVolume', metadataPath: join(dir, 'meta.db'), objectStoreUrl: pathToFileURL(join(dir, 'objects')).href,
    deadObjectDeleteDelayMs: 3_600_000, gcIntervalMs: 3_600_000, compactionIntervalMs: 3_600_000, compactionLiveRatio: 0.25,
    compactionMaxBytesPerRun: 1 << 28, provisionedObjectTtlMs: 3_600_000, mountGracePeriodMs: 2000,
  };
  await formatVolume(settings, { force: false, ifNeeded: false, root: { uid: 0, gid: 0, mode: 0o755 }, clock });
  const srv = await startVolumeServer({
    volumes: [settings], clock, log: quietLog,
    rpc: { host: '127.0.0.1', port: 0, replyCacheTtlMs: 60_000, keepAliveMs: 5000, maxFrameBytes: 16 << 20 },
  });
  const c = createRpcClient({ host: '127.0.0.1', port: srv.port, deadlineMs: 20_000, keepAliveMs: 5000, reconnectDelayMs: 50, reconnectDelayCapMs: 500, maxFrameBytes: 16 << 20, log: quietLog });
  const { mountId, objectStoreUrl, checksumBlockSizeBytes } = await call(c, 'Mount', { volume: settings.name });
  const store = openObjectStore(objectStoreUrl);
  const server: SegmentServer = {
    provision: async (count) => (await call(c, 'ProvisionObject', { mountId, count })).objects,
    wrote: (p) => call(c, 'Wrote', { cred: root, mountId, ...p }),
    unstored: (p) => call(c, 'Unstored', { cred: root, mountId, ...p }),
  };
  const wb = createWriteback({ store, server, clock, log: quietLog, maxFlushSizeBytes: 300_000, maxFlushTimeMs: 3_600_000, dirtySegmentLimit: 3, checksumBlockSizeBytes });
  const cache = createReadCache({ store, lineSizeBytes: 2 * checksumBlockSizeBytes, lineCount: 64, log: quietLog });
  try {
    const f = await call(c, 'Create', { mountId, cred: root, parent: ROOT_INO, name: 'f', mode: 0o644, umask: 0o022, flags: O_RDWR });
    const model = new FileModel();
    const sizes: number[] = [];
    wb.onWrote((_ino, attr) => sizes.push(attr.size));
    const writes: [number, number][] = [[0, 1_000_000], [100_000, 5000], [250_000, 400_000], [1_200_000, 1000], [99_000, 3000]];
    for (const [offset, length] of writes) {
      const data = randomBytes(length);
      await wb.write(f.ino, offset, data);
      model.write(offset, data);
    }
    await wb.flush(f.ino);
    assert.equal(sizes.at(-1), model.bytes.length);
    assert.equal((await call(c, 'GetAttr', { cred: root, mountId, ino: f.ino })).size, model.bytes.length);
    const got = await readFile(c, mountId, f.ino, cache);
    assert.ok(got.equals(model.bytes), 'bytes read back equal the bytes written');

    // Flip one byte of the first object on disk: a cold cache must refuse it.
    const first = await call(c, 'FetchExtentMapChunk', { cred: root, mountId, ino: f.ino, fileOffset: 0, maxEntriesFrom: 1, maxEntriesBefore: 0 });
    const obj = first.objects[0]!;
    const fh = await open(join(dir, 'objects', obj.key), 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 10);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, 10);
    await fh.close();
    const cold = createReadCache({ store, lineSizeBytes: 2 * checksumBlockSizeBytes, lineCount: 4, log: quietLog });
    await assert.rejects(cold.read(obj, 0, 100), { code: 'PFS_ERR_CHECKSUM' });
    await cold.close();
  } finally {
    await wb.close();
    await cache.close();
    await call(c, 'Unmount', { mountId }).catch(() => {});
    await c.close(0);
    await store.close();
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});
