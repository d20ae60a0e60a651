/** Test fixtures of the gc module: a volume database and a local store in a temp dir, real bytes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openObjectStore, type ObjectStore } from '../../common/objectstore/index.js';
import type { Ino } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/types.js';
import { blockCrc32s, CHECKSUM_BLOCK_SIZE_BYTES, createExtentMaps, type ExtentMaps } from '../extents/index.js';
import { fromNs, openMetadata, type Metadata } from '../metadata/index.js';
import type { GcOptions } from './types.js';

export interface Vol {
  dir: string;
  store: ObjectStore;
  md: Metadata;
  extents: ExtentMaps;
  clock: { ns: bigint };
  log: Logger & { lines: { level: string; msg?: string }[] };
  gcOptions(over?: Partial<GcOptions>): GcOptions;
  cleanup(): Promise<void>;
}

export async function volume(opts: { onObjectDead?: () => void } = {}): Promise<Vol> {
  const dir = await mkdtemp(join(tmpdir(), 'pfs-gc-'));
  const store = openObjectStore(pathToFileURL(join(dir, 'objects')).href, { create: true });
  const md = openMetadata(join(dir, 'volume.db'));
  const clock = { ns: 1_700_000_000_000_000_000n };
  const extents = createExtentMaps(md, { now: () => fromNs(clock.ns), onObjectDead: () => opts.onObjectDead?.() });
  const lines: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_obj: object | string, msg?: string): void => { lines.push({ level, msg }); };
  const log = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const v: Vol = {
    dir, store, md, extents, clock, log,
    gcOptions: (over = {}) => ({
      store, extents, md, log, now: () => clock.ns,
      deadObjectDeleteDelayMs: 1000, gcIntervalMs: 3_600_000, compactionIntervalMs: 3_600_000,
      compactionLiveRatio: 0.5, compactionMaxBytesPerRun: 64 << 20, provisionedObjectTtlMs: 60_000, ...over,
    }),
    async cleanup() {
      md.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return v;
}

/** Uploads `body` as a new object and reports the [fileOffset, length, objectOffset] pieces of it for ino. */
export async function writeObject(v: Vol, ino: Ino, body: Buffer, pieces: [number, number, number][]): Promise<number> {
  const [{ objectId, key }] = v.md.transaction(() => v.extents.provision(1)) as [{ objectId: number; key: string }];
  await v.store.put(key, body);
  const object = { objectId, sizeBytes: body.length, blockSizeBytes: CHECKSUM_BLOCK_SIZE_BYTES, crc32: blockCrc32s(body, CHECKSUM_BLOCK_SIZE_BYTES) };
  v.md.transaction(() => v.extents.wrote(ino, object, pieces.map(([fileOffset, length, objectOffset]) => ({ fileOffset, length, objectId, objectOffset }))));
  return objectId;
}

/** Reads size bytes of ino the way an agent does: extent map, ranged gets, zeros for holes. */
export async function readFile(v: Vol, ino: Ino, size: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  const chunk = v.extents.fetchChunk(ino, size, 0, 1_000_000, 0);
  for (const e of chunk.extents) {
    const sums = chunk.objects.find((o) => o.objectId === e.objectId)!;
    (await v.store.get(sums.key, { offset: e.objectOffset, length: e.length })).copy(out, e.fileOffset);
  }
  return out;
}

export function objectRow(v: Vol, objectId: number): { state: string; liveBytes: number } | undefined {
  return v.md.db.prepare('SELECT state, live_bytes AS liveBytes FROM objects WHERE object_id = ?').get(objectId) as { state: string; liveBytes: number } | undefined;
}

export async function storeKeys(v: Vol): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of v.store.list('')) keys.push(info.key);
  return keys;
}
