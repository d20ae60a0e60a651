/**
 * Extent maps and log-segment objects of one volume (tables `extents` and `objects`).
 *
 * Parts: sql.ts (statements), patch.ts (punch / place / trim one inode's map), objects.ts
 * (provisioning, report checks, live-byte accounting), fetch-chunk.ts (FetchExtentMapChunk),
 * checksums.ts (block CRC32), audit.ts (fsck's self-check).
 *
 * Every function is synchronous and runs inside the caller's transaction (md.transaction):
 * the namespace calls truncate/drop from its own transactions, the RPC handlers call
 * fetchChunk/provision/wrote from theirs, GC calls the rest from its own.
 *
 * Invariants:
 * - extents of one inode never overlap and have positive lengths;
 * - objects.live_bytes is the sum of the lengths of the extents referencing the object;
 * - an object's life is provisioned -> live (first Wrote reporting it, which records its size
 *   and CRC32 blocks) -> dead (no live bytes left; dead_since_ns set) -> row forgotten once GC
 *   deleted it from the store. A dead object is never written into again. A provisioned object
 *   that expires unused is made dead by expiredProvisioned, the same way; one handed to a mount
 *   expires only once that mount has ended (disownProvisioned) and the TTL has passed since;
 * - meta `used_bytes` is the sum of all extent lengths, unstored ones excepted;
 * - an extent in UNSTORED_OBJECT_ID (0, never provisioned) marks bytes whose write-back failed
 *   for good (`unstored`): readers get EIO there. It has no object row and no live bytes, is
 *   punched and trimmed like any other, and may lie past the file's size (a later Wrote may
 *   extend the file over it; growing a file by truncate trims at the old size first, so bytes
 *   past the old end read as zeros).
 */
import { PfsError } from '../../common/errors/index.js';
import { objectKey, UNSTORED_OBJECT_ID, type Extent, type ExtentMapChunk, type Ino, type ObjectChecksums, type Timespec, type WroteParams } from '../../common/protocol/index.js';
import { toNs, type Metadata } from '../metadata/index.js';
import { audit, type ExtentsAudit } from './audit.js';
import { fetchChunk } from './fetch-chunk.js';
import { checkExtents, checkReport, checksumsOf, LiveBytes, provision, register, usedBytes, writableObject } from './objects.js';
import { overlapping, place, punch, trimTo } from './patch.js';
import { prepareStatements } from './sql.js';

export { CHECKSUM_BLOCK_SIZE_BYTES, blockCrc32s, badBlocks } from './checksums.js';
export type { ExtentsAudit, ObjectAudit } from './audit.js';

export interface ExtentMapsOptions {
  now: () => Timespec;
  /** Called when an object became dead (inside the caller's transaction: treat it as a kick). */
  onObjectDead?: () => void;
}

export interface MovedPiece {
  ino: Ino;
  fileOffset: number;
  length: number;
  oldObjectOffset: number;
  newObjectOffset: number;
}

export interface ExtentMaps {
  /**
   * Drops every byte at or past min(oldSize, newSize) (extents wholly past it go, the one
   * straddling it is cut): a file grown this way reads zeros past its old end.
   */
  truncate(ino: Ino, oldSize: number, newSize: number): void;
  /** Removes every extent of ino. */
  drop(ino: Ino): void;
  /** Sum of all extent lengths. */
  usedBytes(): number;
  fetchChunk(ino: Ino, size: number, fileOffset: number, maxEntriesFrom: number, maxEntriesBefore: number): ExtentMapChunk;
  /**
   * count new object ids, in state provisioned, owned by mountId: they do not expire while that
   * mount is live (no mountId: they expire ProvisionedObjectTTL after now).
   */
  provision(count: number, mountId?: string): { objectId: number; key: string }[];
  /** The mount ended: its provisioned objects lose their owner and expire ProvisionedObjectTTL after now. */
  disownProvisioned(mountId: string): void;
  /**
   * Patches ino's map with extents of a written object; returns the highest end written (0 if
   * none). byMount (an agent's Wrote): the object must be provisioned to that mount and unreported.
   */
  wrote(ino: Ino, object: WroteParams['object'], extents: Extent[], byMount?: string): number;
  /** Marks ranges of ino as never stored (UNSTORED_OBJECT_ID): they read as EIO until rewritten or trimmed. */
  unstored(ino: Ino, ranges: readonly { fileOffset: number; length: number }[]): void;
  /** Bytes in unstored extents, all inodes (fsck reports them). */
  unstoredBytes(): number;
  /** Dead objects whose dead_since_ns <= olderThanNs, oldest first. */
  deadObjects(olderThanNs: bigint, limit: number): { objectId: number; key: string }[];
  /** Forgets rows of dead objects (after GC deleted them from the store). Other rows are kept. */
  forgetObjects(ids: number[]): void;
  /**
   * Provisioned objects of no live mount, created (or disowned) at or before olderThanNs: they are made dead (dead_since = now),
   * so a late Wrote is refused, and returned for deletion. Call inside a transaction and delete
   * from the store only after it committed.
   */
  expiredProvisioned(olderThanNs: bigint, limit: number): { objectId: number; key: string }[];
  /** Live objects with live/size below liveRatioBelow, emptiest first. */
  compactionCandidates(liveRatioBelow: number, limit: number): { objectId: number; key: string; sizeBytes: number; liveBytes: number }[];
  /** The extents referencing objectId, in object-offset order. */
  liveExtentsOf(objectId: number): (Extent & { ino: Ino })[];
  /** Size and CRC32 blocks of an object that has been reported (live or dead); undefined otherwise. */
  objectChecksums(objectId: number): ObjectChecksums | undefined;
  /**
   * Compaction commit: every part of a moved piece that ino still reads from objectId at the same
   * offsets now reads from newObject. Returns how many extent pieces were repointed. newObject
   * becomes live only if something was repointed into it.
   */
  repoint(objectId: number, moved: MovedPiece[], newObject: WroteParams['object']): number;
  /** fsck: the tables checked against their own invariants. */
  audit(): ExtentsAudit;
}

/** checkExtents' view of an unstored report: any offset is inside "the object". */
const UNSTORED_REPORT = { objectId: UNSTORED_OBJECT_ID, sizeBytes: Number.MAX_SAFE_INTEGER, blockSizeBytes: 0, crc32: [] };

export function createExtentMaps(md: Metadata, opts: ExtentMapsOptions): ExtentMaps {
  const s = prepareStatements(md.db);
  const nowNs = (): bigint => toNs(opts.now());

  function commit(live: LiveBytes): void {
    if (live.commit(s, md, nowNs()) > 0) opts.onObjectDead?.();
  }

  function checkIno(ino: Ino): void {
    if (!Number.isSafeInteger(ino) || ino < 1) throw new PfsError('PFS_ERR_INTERNAL', `bad inode number ${ino}`);
  }

  return {
    truncate(ino, oldSize, newSize) {
      checkIno(ino);
      if (!Number.isSafeInteger(newSize) || newSize < 0) throw new PfsError('PFS_ERR_INTERNAL', `truncate to ${newSize}`);
      const live = new LiveBytes();
      trimTo(s, ino, Math.min(oldSize, newSize), live);
      commit(live);
    },

    drop(ino) {
      checkIno(ino);
      const live = new LiveBytes();
      trimTo(s, ino, 0, live);
      commit(live);
    },

    usedBytes: () => usedBytes(md),

    fetchChunk: (ino, size, fileOffset, maxEntriesFrom, maxEntriesBefore) => fetchChunk(s, ino, size, fileOffset, maxEntriesFrom, maxEntriesBefore),

    provision: (count, mountId) => provision(s, md, nowNs(), count, mountId ?? null),

    disownProvisioned(mountId) {
      s.disownProvisioned.run(nowNs(), mountId);
    },

    wrote(ino, object, extents, byMount) {
      checkIno(ino);
      checkReport(object);
      const sorted = checkExtents(object, extents);
      const row = writableObject(s, object, byMount);
      if (sorted.length === 0) return 0;
      if (row.state === 'provisioned') register(s, object);
      const live = new LiveBytes();
      for (const e of sorted) {
        punch(s, ino, e.fileOffset, e.fileOffset + e.length, live);
        place(s, ino, e, live);
      }
      commit(live);
      const last = sorted[sorted.length - 1]!; // sorted and not overlapping: it ends last
      return last.fileOffset + last.length;
    },

    unstored(ino, ranges) {
      checkIno(ino);
      const sorted = checkExtents(UNSTORED_REPORT, ranges.map((r) => ({ ...r, objectId: UNSTORED_OBJECT_ID, objectOffset: 0 })));
      const live = new LiveBytes();
      for (const r of sorted) {
        punch(s, ino, r.fileOffset, r.fileOffset + r.length, live);
        // objectOffset = fileOffset: neighbouring unstored ranges merge into one extent.
        place(s, ino, { ...r, objectOffset: r.fileOffset }, live);
      }
      commit(live);
    },

    unstoredBytes: () => s.unstoredBytes.get()!.bytes,

    deadObjects: (olderThanNs, limit) => s.dead.all(olderThanNs, limit).map((r) => ({ objectId: r.objectId, key: objectKey(r.objectId) })),

    forgetObjects(ids) {
      for (const id of ids) if (!s.referencesObject.get(id)) s.forget.run(id);
    },

    expiredProvisioned(olderThanNs, limit) {
      const now = nowNs();
      return s.provisionedBefore.all(olderThanNs, limit).map((r) => {
        s.markDead.run(now, r.objectId);
        return { objectId: r.objectId, key: objectKey(r.objectId) };
      });
    },

    compactionCandidates: (ratio, limit) => s.candidates.all(ratio, limit).map((r) => ({ ...r, key: objectKey(r.objectId) })),

    liveExtentsOf: (objectId) => s.ofObject.all(objectId),

    objectChecksums(objectId) {
      const row = s.object.get(objectId);
      return row && row.crc32 !== null ? checksumsOf(row) : undefined;
    },

    repoint(objectId, moved, newObject) {
      checkReport(newObject);
      if (newObject.objectId === objectId) throw new PfsError('PFS_ERR_INTERNAL', `repoint of object ${objectId} into itself`);
      const row = writableObject(s, newObject);
      let registered = row.state === 'live';
      let count = 0;
      const live = new LiveBytes();
      for (const m of moved) {
        checkExtents(newObject, [{ fileOffset: m.fileOffset, length: m.length, objectId: newObject.objectId, objectOffset: m.newObjectOffset }]);
        const end = m.fileOffset + m.length;
        for (const o of overlapping(s, m.ino, m.fileOffset, end)) {
          if (o.objectId !== objectId || o.objectOffset - o.fileOffset !== m.oldObjectOffset - m.fileOffset) continue;
          const a = Math.max(o.fileOffset, m.fileOffset);
          const b = Math.min(o.fileOffset + o.length, end);
          if (!registered) register(s, newObject);
          registered = true;
          punch(s, m.ino, a, b, live);
          place(s, m.ino, { fileOffset: a, length: b - a, objectId: newObject.objectId, objectOffset: m.newObjectOffset + (a - m.fileOffset) }, live);
          count++;
        }
      }
      commit(live);
      return count;
    },

    audit: () => audit(s, md),
  };
}
