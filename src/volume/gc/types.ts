/** Options and counters of the volume's background data work. */
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Logger } from '../../common/rpc/types.js';
import type { ExtentMaps } from '../extents/index.js';
import type { Metadata } from '../metadata/index.js';

/** The tunables of GC and compaction (from a volume's config section). */
export interface GcSettings {
  /** A dead object is deleted from the store once it has been dead this long. */
  deadObjectDeleteDelayMs: number;
  gcIntervalMs: number;
  /** 0 turns compaction off. */
  compactionIntervalMs: number;
  /** Objects whose live/size is below this are compacted. */
  compactionLiveRatio: number;
  /** Live bytes copied per compaction run (at least one object is compacted per run). */
  compactionMaxBytesPerRun: number;
  /** A provisioned object that no Wrote reported within this time is deleted. */
  provisionedObjectTtlMs: number;
}

export interface GcOptions extends GcSettings {
  store: ObjectStore;
  extents: ExtentMaps;
  md: Metadata;
  log: Logger;
  /** Nanoseconds since the epoch, from the same clock as the extent maps' `now`. */
  now: () => bigint;
}

export interface GcStats {
  rounds: number;
  deletedObjects: number;
  expiredObjects: number;
  compactionRuns: number;
  compactedObjects: number;
  /** Bytes copied into compacted objects. */
  compactedBytes: number;
  storeErrors: number;
  checksumErrors: number;
  lastError?: string;
  running: boolean;
}

export function newStats(): GcStats {
  return { rounds: 0, deletedObjects: 0, expiredObjects: 0, compactionRuns: 0, compactedObjects: 0, compactedBytes: 0, storeErrors: 0, checksumErrors: 0, running: false };
}
