/**
 * One log segment being filled: the bytes of the writes that went into it, in write order, and
 * the pieces {fileOffset, objectOffset, length} recording where each write's bytes sit.
 *
 * Bytes live in chunks that are only ever appended to (first 64 KiB, doubling up to 1 MiB,
 * never past the segment's capacity), so every byte is written once and a view of it stays
 * valid and unchanged: pending() hands out such views without copying. seal() hands the chunks
 * over as the object body, in order, without joining them (the object store writes the list).
 *
 * A piece never spans chunks; a write that continues the last piece in the same chunk (a
 * sequential write) extends it, so sequential writes make few pieces.
 */
import type { Extent, Ino, Timespec } from '../../common/protocol/index.js';

export interface Piece {
  fileOffset: number;
  objectOffset: number;
  length: number;
  /** The piece's bytes (a view; never modified). */
  data: Buffer;
}

const FIRST_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 1024 * 1024;

export class Segment {
  readonly pieces: Piece[] = [];
  sizeBytes = 0;
  /** Highest fileOffset + length of any piece, or 0. */
  endOffset = 0;
  /** Clock time of the latest write appended; undefined while empty. */
  lastWrite: Timespec | undefined;
  private chunks: Buffer[] = [];
  /** Bytes used in the last chunk. */
  private used = 0;
  /** The chunk the last piece's bytes lie in (a piece is only extended within its chunk). */
  private lastPieceChunk: Buffer | undefined;
  private body: Buffer[] | undefined;

  constructor(readonly ino: Ino, readonly capacityBytes: number) {}

  get roomBytes(): number {
    return this.capacityBytes - this.sizeBytes;
  }

  /** Copies data (at most roomBytes of it) in as written at fileOffset at time `now`. */
  append(fileOffset: number, data: Buffer, now: Timespec): void {
    if (this.body) throw new Error('append to a sealed segment');
    if (data.length > this.roomBytes) throw new RangeError(`append of ${data.length} bytes to a segment with room for ${this.roomBytes}`);
    let done = 0;
    while (done < data.length) {
      const chunk = this.chunkWithRoom();
      const n = Math.min(chunk.length - this.used, data.length - done);
      data.copy(chunk, this.used, done, done + n);
      const at = fileOffset + done;
      const last = this.pieces.at(-1);
      if (last && this.lastPieceChunk === chunk && last.fileOffset + last.length === at) {
        last.length += n;
        last.data = chunk.subarray(this.used + n - last.length, this.used + n);
      } else {
        this.pieces.push({ fileOffset: at, objectOffset: this.sizeBytes, length: n, data: chunk.subarray(this.used, this.used + n) });
        this.lastPieceChunk = chunk;
      }
      this.used += n;
      this.sizeBytes += n;
      done += n;
    }
    this.endOffset = Math.max(this.endOffset, fileOffset + data.length);
    this.lastWrite = now;
  }

  /** The object body as a list of buffers: every byte appended, in order. Afterwards the segment takes no appends. */
  seal(): Buffer[] {
    if (this.body) return this.body;
    const parts = this.chunks.map((c, i) => (i === this.chunks.length - 1 ? c.subarray(0, this.used) : c));
    this.chunks = [];
    this.lastPieceChunk = undefined;
    this.body = parts;
    return parts;
  }

  /** The extents to report for this segment as objectId: later pieces win, none overlap. */
  extents(objectId: number): Extent[] {
    return resolveExtents(this.pieces).map((e) => ({ ...e, objectId }));
  }

  private chunkWithRoom(): Buffer {
    const last = this.chunks.at(-1);
    if (last && this.used < last.length) return last;
    const want = last ? Math.min(last.length * 2, MAX_CHUNK_BYTES) : FIRST_CHUNK_BYTES;
    const chunk = Buffer.allocUnsafe(Math.min(want, this.roomBytes));
    this.chunks.push(chunk);
    this.used = 0;
    return chunk;
  }
}

type Run = { fileOffset: number; objectOffset: number; length: number };

/**
 * The non-overlapping file ranges the pieces leave, each with the object offset of the piece
 * that wrote it last, sorted by fileOffset; neighbours contiguous in both file and object are
 * merged. Pieces after the current end append in O(1), others splice after a binary search.
 */
export function resolveExtents(pieces: readonly Run[]): Run[] {
  const out: Run[] = [];
  for (const p of pieces) {
    if (p.length <= 0) continue;
    const pEnd = p.fileOffset + p.length;
    const last = out.at(-1);
    if (!last || p.fileOffset >= last.fileOffset + last.length) {
      out.push({ fileOffset: p.fileOffset, objectOffset: p.objectOffset, length: p.length });
      continue;
    }
    // First run ending after p starts, and first run starting at or after p ends.
    const i = firstIndex(out, (r) => r.fileOffset + r.length > p.fileOffset);
    const j = firstIndex(out, (r) => r.fileOffset >= pEnd);
    const repl: Run[] = [];
    const head = out[i]!;
    if (i < j && head.fileOffset < p.fileOffset) repl.push({ ...head, length: p.fileOffset - head.fileOffset });
    repl.push({ fileOffset: p.fileOffset, objectOffset: p.objectOffset, length: p.length });
    const tail = out[j - 1];
    if (j > i && tail && tail.fileOffset + tail.length > pEnd) {
      const cut = pEnd - tail.fileOffset;
      repl.push({ fileOffset: pEnd, objectOffset: tail.objectOffset + cut, length: tail.length - cut });
    }
    out.splice(i, j - i, ...repl);
  }
  const merged: Run[] = [];
  for (const r of out) {
    const prev = merged.at(-1);
    if (prev && prev.fileOffset + prev.length === r.fileOffset && prev.objectOffset + prev.length === r.objectOffset) prev.length += r.length;
    else merged.push({ ...r });
  }
  return merged;
}

/** Index of the first element satisfying a predicate that is false then true along the array. */
function firstIndex<T>(a: readonly T[], pred: (v: T) => boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(a[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
