/**
 * Extent maps of files, cached per inode as the chunks FetchExtentMapChunk returned, and read
 * plans built from them. A chunk covers [rangeStart, rangeEnd): bytes in it not covered by an
 * extent are zeros; bytes in an extent of UNSTORED_OBJECT_ID are planned as `unstored` (EIO). A fetch that was in flight across an invalidate() is used for its own read
 * but never cached.
 * Bounded: at most maxEntries extents are cached across all inodes (least recently used
 * inodes are dropped first).
 */
import { UNSTORED_OBJECT_ID, type Cred, type ExtentMapChunk, type Ino, type ObjectChecksums } from '../../common/protocol/index.js';
import type { VolumeClient } from '../volume-client/index.js';

export interface Piece {
  fileOffset: number;
  length: number;
  /** Absent for a hole (zeros) and for unstored bytes. */
  obj?: ObjectChecksums;
  /** Bytes whose write-back failed for good (UNSTORED_OBJECT_ID): reading them is EIO. */
  unstored?: true;
  objectOffset: number;
}

interface InodeMaps {
  gen: number;
  chunks: ExtentMapChunk[];   // sorted by rangeStart, non-overlapping
  entries: number;
}

export interface ExtentCache {
  /** The pieces covering [offset, offset+length) of the file as the server knows it (length already clipped to its size). */
  plan(ino: Ino, offset: number, length: number): Promise<Piece[]>;
  invalidate(ino: Ino): void;
  /** Drops every inode's maps (fetches in flight are not cached). */
  clear(): void;
  entries(): number;
}

const objectMaps = new WeakMap<ExtentMapChunk, Map<number, ObjectChecksums>>();
function objectsOf(chunk: ExtentMapChunk): Map<number, ObjectChecksums> {
  let m = objectMaps.get(chunk);
  if (!m) objectMaps.set(chunk, (m = new Map(chunk.objects.map((o) => [o.objectId, o]))));
  return m;
}

export function createExtentCache(opts: { client: VolumeClient; cred: Cred; fromCount: number; beforeCount: number; maxEntries: number }): ExtentCache {
  const maps = new Map<Ino, InodeMaps>();
  let total = 0;

  const state = (ino: Ino): InodeMaps => {
    let m = maps.get(ino);
    if (m) {
      maps.delete(ino);
      maps.set(ino, m);
    } else {
      m = { gen: 0, chunks: [], entries: 0 };
      maps.set(ino, m);
    }
    return m;
  };
  // A dropped inode's state object is orphaned: a fetch still in flight for it inserts into
  // the orphan, never into the state a later plan() creates.
  const drop = (ino: Ino, m: InodeMaps) => {
    total -= m.entries;
    m.gen++;
    m.chunks = [];
    m.entries = 0;
    maps.delete(ino);
  };
  const insert = (ino: Ino, m: InodeMaps, chunk: ExtentMapChunk) => {
    m.chunks = m.chunks.filter((c) => c.rangeEnd <= chunk.rangeStart || c.rangeStart >= chunk.rangeEnd);
    m.chunks.push(chunk);
    m.chunks.sort((a, b) => a.rangeStart - b.rangeStart);
    total -= m.entries;
    m.entries = m.chunks.reduce((n, c) => n + c.extents.length, 0);
    total += m.entries;
    for (const [other, om] of maps) {
      if (total <= opts.maxEntries) break;
      if (other !== ino) drop(other, om);
    }
  };
  const covering = (m: InodeMaps, pos: number) => m.chunks.find((c) => c.rangeStart <= pos && pos < c.rangeEnd);

  return {
    async plan(ino, offset, length) {
      const m = state(ino);
      const pieces: Piece[] = [];
      const end = offset + length;
      let pos = offset;
      while (pos < end) {
        let chunk = covering(m, pos);
        if (!chunk) {
          const gen = m.gen;
          chunk = await opts.client.call('FetchExtentMapChunk', { cred: opts.cred, ino, fileOffset: pos, maxEntriesFrom: opts.fromCount, maxEntriesBefore: opts.beforeCount });
          if (gen === m.gen && maps.get(ino) === m && chunk.rangeEnd > chunk.rangeStart) insert(ino, m, chunk);
          if (!(chunk.rangeStart <= pos && pos < chunk.rangeEnd)) {
            // Past the server's end of file (or an empty map): the rest reads as zeros.
            pieces.push({ fileOffset: pos, length: end - pos, objectOffset: 0 });
            break;
          }
        }
        const objects = objectsOf(chunk);
        const stop = Math.min(end, chunk.rangeEnd);
        for (const e of chunk.extents) {
          const eEnd = e.fileOffset + e.length;
          if (eEnd <= pos || e.fileOffset >= stop) continue;
          if (e.fileOffset > pos) pieces.push({ fileOffset: pos, length: e.fileOffset - pos, objectOffset: 0 });
          const from = Math.max(pos, e.fileOffset);
          const to = Math.min(stop, eEnd);
          if (e.objectId === UNSTORED_OBJECT_ID) pieces.push({ fileOffset: from, length: to - from, unstored: true, objectOffset: 0 });
          else pieces.push({ fileOffset: from, length: to - from, obj: objects.get(e.objectId), objectOffset: e.objectOffset + (from - e.fileOffset) });
          pos = to;
        }
        if (pos < stop) {
          pieces.push({ fileOffset: pos, length: stop - pos, objectOffset: 0 });
          pos = stop;
        }
      }
      return pieces;
    },
    invalidate(ino) {
      const m = maps.get(ino);
      if (m) drop(ino, m);
    },
    clear() {
      for (const [ino, m] of [...maps]) drop(ino, m);
    },
    entries: () => total,
  };
}
