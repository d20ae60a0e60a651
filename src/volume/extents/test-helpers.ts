/** Test helpers of the extents module: an in-memory volume database with a settable clock. */
import type { Extent, Ino, WroteParams } from '../../common/protocol/index.js';
import { fromNs, openMetadata, type Metadata } from '../metadata/index.js';
import { CHECKSUM_BLOCK_SIZE_BYTES } from './checksums.js';
import { createExtentMaps, type ExtentMaps } from './index.js';

export interface Fixture {
  md: Metadata;
  maps: ExtentMaps;
  clock: { ns: bigint };
  deaths: { count: number };
}

export function fixture(): Fixture {
  const md = openMetadata(':memory:');
  const clock = { ns: 1_700_000_000_000_000_000n };
  const deaths = { count: 0 };
  const maps = createExtentMaps(md, { now: () => fromNs(clock.ns), onObjectDead: () => { deaths.count++; } });
  return { md, maps, clock, deaths };
}

/** A report for an object of sizeBytes with made-up (but well-formed) CRCs. */
export function report(objectId: number, sizeBytes: number, seed = 7): WroteParams['object'] {
  const blocks = Math.ceil(sizeBytes / CHECKSUM_BLOCK_SIZE_BYTES);
  return { objectId, sizeBytes, blockSizeBytes: CHECKSUM_BLOCK_SIZE_BYTES, crc32: Array.from({ length: blocks }, (_, i) => (seed * 2654435761 + i) >>> 0) };
}

/** Provisions an object and writes the given [fileOffset, length, objectOffset] pieces of it to ino. */
export function write(f: Fixture, ino: Ino, sizeBytes: number, pieces: [number, number, number][]): number {
  const [{ objectId }] = f.maps.provision(1) as [{ objectId: number; key: string }];
  const extents: Extent[] = pieces.map(([fileOffset, length, objectOffset]) => ({ fileOffset, length, objectId, objectOffset }));
  f.md.transaction(() => f.maps.wrote(ino, report(objectId, sizeBytes), extents));
  return objectId;
}

/** Every extent of ino, in file order. */
export function allExtents(f: Fixture, ino: Ino): Extent[] {
  return f.maps.fetchChunk(ino, Number.MAX_SAFE_INTEGER, 0, 1_000_000, 0).extents;
}

export interface ObjectState {
  state: string;
  liveBytes: number;
  deadSinceNs: bigint | null;
}

export function objectState(f: Fixture, objectId: number): ObjectState | undefined {
  const r = f.md.db.prepare('SELECT state, live_bytes AS liveBytes, dead_since_ns AS deadSinceNs FROM objects WHERE object_id = ?')
    .safeIntegers(true).get(objectId) as { state: string; liveBytes: bigint; deadSinceNs: bigint | null } | undefined;
  return r && { state: r.state, liveBytes: Number(r.liveBytes), deadSinceNs: r.deadSinceNs };
}
