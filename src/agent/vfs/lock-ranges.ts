/**
 * The agent's copy of one owner's POSIX locks on one inode, as fcntl(2) defines them: byte
 * ranges [start, end) (end Infinity = to EOF), each read or write; a new lock or an unlock
 * replaces whatever the owner held under it, splitting what it cuts, and neighbours of one
 * type merge. The server keeps the truth (volume/locks); this copy exists so that the agent
 * can put a range back as it was when a grant arrives for a wait it has given up (locks.ts).
 */

export type HeldType = 'read' | 'write';

export interface HeldRange {
  start: number;
  /** Exclusive; Infinity = to end of file. */
  end: number;
  type: HeldType;
}

/** ranges with [start, end) set to `type` (or cleared, for 'unlock'); sorted, merged, new array. */
export function applyRange(ranges: readonly HeldRange[], type: HeldType | 'unlock', start: number, end: number): HeldRange[] {
  const out: HeldRange[] = [];
  for (const r of ranges) {
    if (r.end <= start || r.start >= end) { out.push(r); continue; }
    if (r.start < start) out.push({ start: r.start, end: start, type: r.type });
    if (r.end > end) out.push({ start: end, end: r.end, type: r.type });
  }
  if (type !== 'unlock') out.push({ start, end, type });
  out.sort((a, b) => a.start - b.start);
  const merged: HeldRange[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && last.type === r.type && last.end === r.start) merged[merged.length - 1] = { ...last, end: r.end };
    else merged.push(r);
  }
  return merged;
}

/** [start, end) cut into pieces by what the owner holds there: each piece's type, or 'none'. */
export function piecesOf(ranges: readonly HeldRange[], start: number, end: number): { start: number; end: number; type: HeldType | 'none' }[] {
  const pieces: { start: number; end: number; type: HeldType | 'none' }[] = [];
  let at = start;
  for (const r of ranges) {
    if (r.end <= at || r.start >= end) continue;
    if (r.start > at) pieces.push({ start: at, end: r.start, type: 'none' });
    const to = Math.min(r.end, end);
    pieces.push({ start: Math.max(r.start, at), end: to, type: r.type });
    at = to;
  }
  if (at < end) pieces.push({ start: at, end, type: 'none' });
  return pieces;
}

export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}
