/**
 * FetchExtentMapChunk: a window of one file's extent map around a file offset.
 * The anchor is the extent containing fileOffset, or the first one after it. The chunk holds
 * up to maxEntriesBefore extents ahead of the anchor and up to maxEntriesFrom from it on.
 * rangeStart is the end of the extent just before the first one returned (or 0); rangeEnd is
 * the start of the extent just after the last one returned (or size). Extents are clipped to
 * size (ones starting at or past it do not exist for the reader). Every byte of
 * [rangeStart, rangeEnd) not covered by an extent reads as zero. Extents in UNSTORED_OBJECT_ID
 * (bytes whose write-back failed) are returned like others, with no object checksums.
 */
import { FsError, PfsError } from '../../common/errors/index.js';
import { UNSTORED_OBJECT_ID, type Extent, type ExtentMapChunk, type Ino, type ObjectChecksums } from '../../common/protocol/index.js';
import { checksumsOf } from './objects.js';
import type { ExtentRow, Statements } from './sql.js';

const isUint = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

export function fetchChunk(s: Statements, ino: Ino, size: number, fileOffset: number, maxEntriesFrom: number, maxEntriesBefore: number): ExtentMapChunk {
  if (!isUint(size) || !isUint(fileOffset) || !isUint(maxEntriesFrom) || !isUint(maxEntriesBefore)) {
    throw new FsError('EINVAL', `fetchChunk(size ${size}, offset ${fileOffset}, from ${maxEntriesFrom}, before ${maxEntriesBefore})`);
  }
  const containing = s.atOrBefore.get(ino, fileOffset);
  const contains = containing !== undefined && Math.min(containing.fileOffset + containing.length, size) > fileOffset;
  const anchor = contains ? containing.fileOffset : fileOffset + 1;

  const from = s.fromAnchor.all(ino, anchor, size, maxEntriesFrom + 1);
  const after: ExtentRow | undefined = from.length > maxEntriesFrom ? from.pop() : undefined;
  const before = s.beforeAnchor.all(ino, anchor, size, maxEntriesBefore + 1);
  const ahead: ExtentRow | undefined = before.length > maxEntriesBefore ? before.pop() : undefined;
  before.reverse();

  const extents: Extent[] = [...before, ...from].map((e) => ({
    fileOffset: e.fileOffset,
    length: Math.min(e.length, size - e.fileOffset),
    objectId: e.objectId,
    objectOffset: e.objectOffset,
  }));
  const objects: ObjectChecksums[] = [];
  for (const id of new Set(extents.map((e) => e.objectId))) {
    if (id === UNSTORED_OBJECT_ID) continue; // no object: the reader answers EIO there
    const row = s.object.get(id);
    if (!row || row.state !== 'live') throw new PfsError('PFS_ERR_INTERNAL', `inode ${ino} has an extent in object ${id}, which is ${row?.state ?? 'unknown'}`);
    objects.push(checksumsOf(row));
  }
  return {
    rangeStart: ahead ? Math.min(ahead.fileOffset + ahead.length, size) : 0,
    rangeEnd: after ? after.fileOffset : size,
    size,
    extents,
    objects,
  };
}
