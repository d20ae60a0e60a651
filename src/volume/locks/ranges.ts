/**
 * POSIX byte-range lock arithmetic, as fcntl(2) defines it, over one inode's list of locks.
 * Ranges are [start, end) with end = Infinity for "to end of file". Pure functions: the lock
 * table keeps the list and calls these.
 *
 * Invariant kept by applyRange: one owner's locks never overlap, and two of its locks of the
 * same type never touch (they are merged); locks of different owners may overlap (reads).
 */

export type HeldType = 'read' | 'write';

export interface RangeLock {
  /** The mount and the agent's owner string, joined (see ownerKey). */
  readonly ownerKey: string;
  readonly mountId: string;
  type: HeldType;
  start: number;
  end: number;
  pid: number;
}

export function overlaps(a: { start: number; end: number }, start: number, end: number): boolean {
  return a.start < end && start < a.end;
}

/** Locks of other owners that overlap [start, end) and conflict with `type` (write excludes everything, reads share). */
export function rangeConflicts(locks: readonly RangeLock[], ownerKey: string, type: HeldType, start: number, end: number): RangeLock[] {
  return locks.filter((l) => l.ownerKey !== ownerKey && overlaps(l, start, end) && (type === 'write' || l.type === 'write'));
}

/**
 * The owner's locks after it locks (`read`/`write`) or unlocks [start, end): what overlaps is cut
 * away (split around the range), the new lock is added, and touching or overlapping locks of
 * the same type are merged. Other owners' locks are returned unchanged. Does not check conflicts.
 */
export function applyRange(
  locks: readonly RangeLock[], ownerKey: string, mountId: string, type: HeldType | 'unlock', start: number, end: number, pid: number,
): RangeLock[] {
  const others: RangeLock[] = [];
  const kept: RangeLock[] = [];
  for (const l of locks) {
    if (l.ownerKey !== ownerKey) others.push(l);
    else if (!overlaps(l, start, end)) kept.push(l);
    else {
      if (l.start < start) kept.push({ ...l, end: start });
      if (l.end > end) kept.push({ ...l, start: end });
    }
  }
  const added = type === 'unlock' ? undefined : { ownerKey, mountId, type, start, end, pid };
  if (added) kept.push(added);
  kept.sort((a, b) => a.start - b.start);
  const merged: RangeLock[] = [];
  for (const l of kept) {
    const last = merged[merged.length - 1];
    if (last && last.type === l.type && last.end >= l.start) {
      last.end = Math.max(last.end, l.end);
      if (l === added) last.pid = l.pid;
    } else {
      merged.push(l === added ? l : { ...l });
    }
  }
  return [...others, ...merged];
}
