/**
 * Segment buffers used again. Segments are filled in chunks of one size (chunkBytes: 1 MiB, or
 * the segment size when smaller); the chunks of a segment that was written back come back here
 * and the next segments fill them instead of fresh memory. Fresh memory costs a page fault per
 * 4 KiB and the kernel's zeroing on first touch, and every 10 MiB handed to the GC and taken
 * again makes V8 collect sooner: copying a FUSE write of 128 KiB into a fresh chunk took 45 µs
 * here, into a used one 5-40 µs (cache-hot or not), and the agent's GC time fell from 12 % to
 * 2 % of a sequential write.
 *
 * Bound: a chunk is only allocated when none is kept, so chunks allocated and not dropped never
 * outnumber the most ever held by segments at once, itself at most dirtySegmentLimit ×
 * ceil(maxFlushSizeBytes / chunkBytes): keeping chunks adds nothing to the writeback's memory
 * bound. At most keepChunks are kept; the writeback clears the pool once it has been idle a
 * while, so an idle agent holds none.
 */
export interface ChunkSource {
  readonly chunkBytes: number;
  /** A chunk of chunkBytes; its contents are undefined. */
  take(): Buffer;
}

export class ChunkPool implements ChunkSource {
  private readonly free: Buffer[] = [];

  constructor(readonly chunkBytes: number, readonly keepChunks: number) {}

  take(): Buffer {
    // The most recently given back: the likeliest to be still in the CPU cache.
    return this.free.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
  }

  /** Chunks no one reads or writes any more (whole, as take() returned them). */
  give(chunks: readonly Buffer[]): void {
    for (const c of chunks) {
      if (c.length !== this.chunkBytes) throw new RangeError(`chunk of ${c.length} bytes given to a pool of ${this.chunkBytes}-byte chunks`);
      if (this.free.length < this.keepChunks) this.free.push(c);
    }
  }

  /** Chunks kept for reuse. */
  get keptChunks(): number {
    return this.free.length;
  }

  clear(): void {
    this.free.length = 0;
  }
}

/** Chunks of new memory every time: a segment without a pool. */
export function freshChunks(chunkBytes: number): ChunkSource {
  return { chunkBytes, take: () => Buffer.allocUnsafe(chunkBytes) };
}
