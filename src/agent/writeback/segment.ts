/**
 * One log segment being filled: the bytes of the writes that went into it, in write order, and
 * the pieces {fileOffset, objectOffset, length} recording where each write's bytes sit.
 *
 * Bytes live in chunks that are only ever appended to (chunks of one size, from a ChunkSource:
 * the writeback's pool), so every byte is written once. seal() hands the chunks over as the
 * object body, in order, without joining them (the object store writes the list); release()
 * gives them back to the pool once the object is written, and the segment is not read again.
 * Views of its bytes never leave the writeback: pending() copies.
 *
 * With a checksum block size the block CRC32s are computed as bytes go in: each write's bytes
 * are hashed just after they are copied, while they are in the CPU cache (hashing them again
 * from memory when the segment closes took 3 times as long on the test machine, and stalled
 * the write that closed it for ~3 ms per 10 MiB). The hashing starts in a setImmediate after
 * the append, so after the write's FUSE reply has gone, and whole blocks are hashed on the
 * thread pool (BlockCrc32 with blockCrc32sOffThread): the main thread answers the next request meanwhile. seal()
 * and crc32s() first start whatever is still waiting. Chunks are only appended to, so the
 * bytes hashed later are the bytes copied.
 *
 * A piece never spans chunks; a write that continues the last piece in the same chunk (a
 * sequential write) extends it, so sequential writes make few pieces.
 */
import { BlockCrc32, blockCrc32s, blockCrc32sOffThread } from '../../common/checksum/index.js';
import type { Extent, Ino, Timespec } from '../../common/protocol/index.js';
import { freshChunks, type ChunkPool, type ChunkSource } from './chunk-pool.js';

export interface Piece {
  fileOffset: number;
  objectOffset: number;
  length: number;
  /** The piece's bytes (a view; never modified). */
  data: Buffer;
}

/** Chunk size without a pool (a pool has its own). */
const CHUNK_BYTES = 1024 * 1024;

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
  /** Every chunk taken from the pool, whole (release() gives them back). */
  private readonly owned: Buffer[] = [];
  private released = false;
  private readonly pool: ChunkSource;
  /** Block CRC32s of the bytes appended, when asked for at construction. */
  private readonly hash: BlockCrc32 | undefined;
  /** Views of bytes appended and not hashed yet, in order. */
  private unhashed: Buffer[] = [];
  private hashScheduled = false;

  constructor(readonly ino: Ino, readonly capacityBytes: number, opts: { pool?: ChunkSource; checksumBlockSizeBytes?: number } = {}) {
    this.pool = opts.pool ?? freshChunks(Math.min(CHUNK_BYTES, capacityBytes));
    if (opts.checksumBlockSizeBytes !== undefined) this.hash = new BlockCrc32(opts.checksumBlockSizeBytes, blockCrc32sOffThread);
  }

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
      if (this.hash) this.unhashed.push(chunk.subarray(this.used, this.used + n));
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
    if (this.hash && !this.hashScheduled) {
      this.hashScheduled = true;
      setImmediate(() => {
        this.hashScheduled = false;
        if (!this.released) this.hashPending();
      });
    }
  }

  /** Feeds the bytes appended since the last call to the block CRC32s. */
  private hashPending(): void {
    if (!this.hash) return;
    for (const part of this.unhashed) this.hash.update(part);
    this.unhashed = [];
  }

  /**
   * CRC32 of each block of the body (seal() first): computed as it filled when the block size
   * is the segment's (whole blocks on the thread pool), else from the body now. The segment must
   * not be released before this resolves.
   */
  async crc32s(blockSizeBytes: number): Promise<number[]> {
    if (!this.body) throw new Error('crc32s of a segment not sealed');
    this.hashPending();
    if (this.hash?.blockSizeBytes === blockSizeBytes) return this.hash.settled();
    return blockCrc32s(this.body, blockSizeBytes);
  }

  /** The object body as a list of buffers: every byte appended, in order. Afterwards the segment takes no appends. */
  seal(): Buffer[] {
    if (this.released) throw new Error('seal of a released segment');
    if (this.body) return this.body;
    this.hashPending();
    const parts = this.chunks.map((c, i) => (i === this.chunks.length - 1 ? c.subarray(0, this.used) : c));
    this.chunks = [];
    this.lastPieceChunk = undefined;
    this.body = parts;
    return parts;
  }

  /** The object is written (or given up): the chunks go back to `pool`; the segment's bytes are not read again. */
  release(pool: Pick<ChunkPool, 'give'>): void {
    if (this.released) return;
    this.released = true;
    this.unhashed = [];
    pool.give(this.owned);
    this.owned.length = 0;
    this.chunks = [];
    this.body = [];
    this.lastPieceChunk = undefined;
  }

  /** The extents to report for this segment as objectId: later pieces win, none overlap. */
  extents(objectId: number): Extent[] {
    return resolveExtents(this.pieces).map((e) => ({ ...e, objectId }));
  }

  private chunkWithRoom(): Buffer {
    const last = this.chunks.at(-1);
    if (last && this.used < last.length) return last;
    const whole = this.pool.take();
    this.owned.push(whole);
    const chunk = whole.length > this.roomBytes ? whole.subarray(0, this.roomBytes) : whole;
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
