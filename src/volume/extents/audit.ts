/**
 * A read-only check of the extents and objects tables against their own invariants, for fsck:
 * extents of an inode do not overlap and have positive lengths, each lies inside a live
 * object, live_bytes equals the bytes of extents referencing the object, a live object has
 * live bytes, and the used_bytes counter equals the sum of extent lengths (extents of bytes never
 * stored, UNSTORED_OBJECT_ID, are counted apart).
 */
import { objectKey, UNSTORED_OBJECT_ID } from '../../common/protocol/index.js';
import type { Metadata } from '../metadata/index.js';
import { usedBytes } from './objects.js';
import type { ObjectRow, Statements } from './sql.js';

export interface ObjectAudit {
  objectId: number;
  key: string;
  /** undefined: extents reference an object that has no row. */
  state: ObjectRow['state'] | undefined;
  sizeBytes: number;
  liveBytes: number;
  /** Sum of the lengths of the extents that reference the object. */
  extentBytes: number;
}

export interface ExtentsAudit {
  objects: ObjectAudit[];
  usedBytes: number;
  extentBytes: number;
  /** Bytes in extents of UNSTORED_OBJECT_ID (failed write-backs; not a problem, they read as EIO). */
  unstoredBytes: number;
  problems: string[];
}

export function audit(s: Statements, md: Metadata): ExtentsAudit {
  const problems: string[] = [];
  const objects = new Map<number, ObjectAudit>();
  for (const r of s.allObjects.iterate()) {
    objects.set(r.objectId, { objectId: r.objectId, key: objectKey(r.objectId), state: r.state, sizeBytes: r.sizeBytes, liveBytes: r.liveBytes, extentBytes: 0 });
  }
  let total = 0;
  let unstored = 0;
  let prev: { ino: number; end: number } | undefined;
  for (const e of s.allExtents.iterate()) {
    const where = `inode ${e.ino} extent at ${e.fileOffset}+${e.length}`;
    if (e.length <= 0) problems.push(`${where} has a non-positive length`);
    if (prev && prev.ino === e.ino && e.fileOffset < prev.end) problems.push(`${where} overlaps the extent before it (ending at ${prev.end})`);
    prev = { ino: e.ino, end: e.fileOffset + e.length };
    if (e.objectId === UNSTORED_OBJECT_ID) {
      unstored += e.length;
      continue;
    }
    total += e.length;
    let o = objects.get(e.objectId);
    if (!o) {
      o = { objectId: e.objectId, key: objectKey(e.objectId), state: undefined, sizeBytes: 0, liveBytes: 0, extentBytes: 0 };
      objects.set(e.objectId, o);
      problems.push(`${where} references object ${e.objectId}, which has no row`);
    } else if (o.state !== 'live') {
      problems.push(`${where} references object ${e.objectId}, which is ${o.state}`);
    } else if (e.objectOffset + e.length > o.sizeBytes) {
      problems.push(`${where} reads past the end of object ${e.objectId} (${o.sizeBytes} bytes)`);
    }
    o.extentBytes += e.length;
  }
  for (const o of objects.values()) {
    if (o.state === 'live' && o.liveBytes === 0) problems.push(`object ${o.objectId} is live with no live bytes`);
  }
  const counter = usedBytes(md);
  if (counter !== total) problems.push(`used_bytes counter is ${counter}, extents add up to ${total}`);
  return { objects: [...objects.values()], usedBytes: counter, extentBytes: total, unstoredBytes: unstored, problems };
}
