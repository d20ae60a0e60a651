/** The public types of writeback (re-exported by index.ts). */
import type { Clock } from '../../common/clock/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Attr, Ino, Timespec } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { RetryOptions, SegmentServer } from './upload.js';

export interface WritebackOptions {
  store: ObjectStore;
  server: SegmentServer;
  clock: Clock;
  log: Logger;
  maxFlushSizeBytes: number;
  maxFlushTimeMs: number;
  dirtySegmentLimit: number;
  checksumBlockSizeBytes: number;
  /** When more inodes than this have an open segment, the oldest is closed (default: no limit). */
  dirtyFileLimit?: number;
  /** PUT retries (default 5 retries, first after 100 ms, factor 2). */
  retry?: RetryOptions;
}

export interface WritebackStats {
  dirtyBytes: number;
  segmentsInFlight: number;
  segmentsWritten: number;
  bytesWritten: number;
  segmentsOpen: number;
  segmentsFailed: number;
  putRetries: number;
  /** Failed segments whose ranges the server marked unstored (they read as EIO). */
  segmentsMarkedUnstored: number;
  /** Writes refused with ENOSPC at once because the store was full moments before. */
  writesRefusedFull: number;
  /** Segments written again under a fresh object number after the server refused theirs. */
  segmentsReprovisioned: number;
  slotWaits: number;
}

export interface Writeback {
  /** Copies data into the inode's open segment (opening one, waiting for a free slot when
   *  dirtySegmentLimit segments are open or in flight). Resolves once buffered. */
  write(ino: Ino, offset: number, data: Buffer): Promise<void>;
  /** Closes the inode's open segment and resolves when every segment of the inode that existed
   *  at call time has been PUT and reported with Wrote (in order). Rejects (EIO) once if any
   *  failed for good. */
  flush(ino: Ino): Promise<void>;
  /** flush of every inode; rejects (EIO) if any inode had a failure. */
  flushAll(): Promise<void>;
  /** As flush, but never rejects and leaves a failure mark for the next flush (the application's
   *  fsync/close reports it): the lease manager's flush before a demote or release. */
  settle(ino: Ino): Promise<void>;
  /**
   * The mount was evicted: every inode with buffered or in-flight writes is marked failed (its
   * next flush rejects with EIO) and that data is never reported with Wrote, nor are writes
   * already waiting. Returns the inodes marked.
   */
  failAll(message: string): Ino[];
  /** Unflushed and in-flight writes of ino within [offset, offset + length) (default: all),
   *  oldest first, as copies to lay over bytes read from objects. Take the snapshot BEFORE
   *  fetching the extent map. */
  pending(ino: Ino, offset?: number, length?: number): { fileOffset: number; data: Buffer }[];
  /** Highest fileOffset+length among unflushed/in-flight writes, or 0. */
  dirtyEnd(ino: Ino): number;
  /** mtime of the latest buffered write, if the inode has unreported writes. */
  dirtyMtime(ino: Ino): Timespec | undefined;
  /** Called after each successful Wrote, and each Unstored, with the attributes it returned. */
  onWrote(listener: (ino: Ino, attr: Attr) => void): void;
  /**
   * Called when a segment of ino failed for good, once its ranges left pending() (and, unless
   * the mount was evicted, after Unstored marked them): bytes the kernel keeps of the file
   * must go, so a read asks again and gets EIO there.
   */
  onFailed(listener: (ino: Ino) => void): void;
  stats(): WritebackStats;
  /** Refuses new writes, flushAll (rejecting, after draining, with its EIO), then stops timers. */
  close(): Promise<void>;
}
