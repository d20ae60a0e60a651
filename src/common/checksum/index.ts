/**
 * The checksum convention shared by agent and volume server: CRC32 (zlib's polynomial,
 * zlib.crc32) of every blockSizeBytes block of a log-segment object, the last block short.
 * The agent computes the list as it fills a segment (BlockCrc32, fed each write's bytes right
 * after copying them, while they are still in the CPU cache) and verifies blocks as it reads
 * them; the volume server stores the list with the object and uses it for compaction and fsck.
 */
import { crc32 } from 'node:zlib';

/**
 * The block CRC32s of a byte stream fed in order, in pieces of any size (a block may span
 * pieces: its CRC is continued across them). list() gives the CRCs of the bytes fed so far.
 */
export class BlockCrc32 {
  /** Bytes fed so far. */
  sizeBytes = 0;
  private readonly done: number[] = [];
  private crc = 0;
  private inBlock = 0;

  constructor(readonly blockSizeBytes: number) {
    if (!Number.isSafeInteger(blockSizeBytes) || blockSizeBytes < 1) throw new RangeError(`checksum block size ${blockSizeBytes}`);
  }

  update(part: Buffer): void {
    const size = this.blockSizeBytes;
    for (let off = 0; off < part.length;) {
      const n = Math.min(size - this.inBlock, part.length - off);
      this.crc = crc32(off === 0 && n === part.length ? part : part.subarray(off, off + n), this.crc);
      this.inBlock += n;
      off += n;
      if (this.inBlock === size) {
        this.done.push(this.crc);
        this.crc = 0;
        this.inBlock = 0;
      }
    }
    this.sizeBytes += part.length;
  }

  /** CRC32 of each block of the bytes fed so far, the last one short (none for no bytes). */
  list(): number[] {
    return this.inBlock > 0 ? [...this.done, this.crc] : this.done.slice();
  }
}

/**
 * CRC32 of each blockSizeBytes block of the bytes of `parts` taken in order (the last block may
 * be short; none for no bytes). A block may span parts: its CRC is continued across them.
 */
export function blockCrc32s(parts: Buffer | readonly Buffer[], blockSizeBytes: number): number[] {
  const acc = new BlockCrc32(blockSizeBytes);
  for (const part of Buffer.isBuffer(parts) ? [parts] : parts) acc.update(part);
  return acc.list();
}

/** Indexes of the blocks of `data` (which starts at block `firstBlock`) whose CRC32 is not `expected[i]`. */
export function badBlocks(data: Buffer, firstBlock: number, blockSizeBytes: number, expected: readonly number[]): number[] {
  const bad: number[] = [];
  for (let off = 0, b = firstBlock; off < data.length; off += blockSizeBytes, b++) {
    if (crc32(data.subarray(off, off + blockSizeBytes)) !== expected[b]) bad.push(b);
  }
  return bad;
}
