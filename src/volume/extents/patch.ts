/**
 * Patching one inode's extent map. Extents of an inode never overlap; writing a range first
 * punches it (old extents it overlaps are cut, their head and tail pieces keep pointing into
 * their old object at adjusted offsets), then places the new extent, merged with a neighbour
 * that continues it in the same object. Every change is reported to a LiveBytes accumulator.
 */
import type { Extent, Ino } from '../../common/protocol/index.js';
import type { LiveBytes } from './objects.js';
import type { ExtentRow, Statements } from './sql.js';

/** Extents of ino overlapping [start, end), in file order. */
export function overlapping(s: Statements, ino: Ino, start: number, end: number): ExtentRow[] {
  const out: ExtentRow[] = [];
  const first = s.atOrBefore.get(ino, start);
  if (first && first.fileOffset + first.length > start) out.push(first);
  out.push(...s.startingBetween.all(ino, start, end));
  return out;
}

/** Removes every byte of [start, end) from ino's map. */
export function punch(s: Statements, ino: Ino, start: number, end: number, live: LiveBytes): void {
  for (const o of overlapping(s, ino, start, end)) {
    const oEnd = o.fileOffset + o.length;
    s.remove.run(ino, o.fileOffset);
    live.add(o.objectId, -o.length);
    if (o.fileOffset < start) {
      s.insert.run(ino, o.fileOffset, start - o.fileOffset, o.objectId, o.objectOffset);
      live.add(o.objectId, start - o.fileOffset);
    }
    if (oEnd > end) {
      s.insert.run(ino, end, oEnd - end, o.objectId, o.objectOffset + (end - o.fileOffset));
      live.add(o.objectId, oEnd - end);
    }
  }
}

/** Inserts e into a range punch() has emptied, merging it with neighbours that continue it. */
export function place(s: Statements, ino: Ino, e: Extent, live: LiveBytes): void {
  let { fileOffset, length, objectOffset } = e;
  const prev = s.before.get(ino, e.fileOffset);
  if (prev && prev.fileOffset + prev.length === e.fileOffset && prev.objectId === e.objectId && prev.objectOffset + prev.length === e.objectOffset) {
    s.remove.run(ino, prev.fileOffset);
    fileOffset = prev.fileOffset;
    objectOffset = prev.objectOffset;
    length += prev.length;
  }
  const next = s.at.get(ino, e.fileOffset + e.length);
  if (next && next.objectId === e.objectId && e.objectOffset + e.length === next.objectOffset) {
    s.remove.run(ino, next.fileOffset);
    length += next.length;
  }
  s.insert.run(ino, fileOffset, length, e.objectId, objectOffset);
  live.add(e.objectId, e.length);
}

/** Drops every byte at or past newSize. */
export function trimTo(s: Statements, ino: Ino, newSize: number, live: LiveBytes): void {
  const straddling = s.before.get(ino, newSize);
  if (straddling && straddling.fileOffset + straddling.length > newSize) {
    s.setLength.run(newSize - straddling.fileOffset, ino, straddling.fileOffset);
    live.add(straddling.objectId, newSize - straddling.fileOffset - straddling.length);
  }
  for (const r of s.bytesFrom.all(ino, newSize)) live.add(r.objectId, -r.bytes);
  s.removeFrom.run(ino, newSize);
}
