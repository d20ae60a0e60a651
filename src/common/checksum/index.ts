/**
 * The checksum convention shared by agent and volume server: CRC32 (zlib's polynomial,
 * zlib.crc32) of every blockSizeBytes block of a log-segment object, the last block short.
 * The agent computes the list as it fills a segment (BlockCrc32, fed each write's bytes right
 * after copying them, while they are still in the CPU cache) and verifies blocks as it reads
 * them; the volume server stores the list with the object and uses it for compaction and fsck.
 */
import { crc32 } from 'node:zlib';
import { nativeAddon } from '../native/addon.js';

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
 * Like BlockCrc32, with the whole blocks of each part hashed on the libuv thread pool (native
 * crc32Blocks, Node's zlib) instead of the calling thread: for the agent's write path, whose
 * main thread answers the next FUSE request meanwhile. The bytes of a part in progress of a
 * block are hashed here. A part must not change until list() has resolved. Without the native
 * addon everything is hashed on the calling thread.
 */
export class PooledBlockCrc32 {
  private readonly items: Array<number | Promise<number[]>> = [];
  private crc = 0;
  private inBlock = 0;

  constructor(readonly blockSizeBytes: number) {
    if (!Number.isSafeInteger(blockSizeBytes) || blockSizeBytes < 1 || blockSizeBytes > 0xffffffff) throw new RangeError(`checksum block size ${blockSizeBytes}`);
  }

  update(part: Buffer): void {
    const size = this.blockSizeBytes;
    let off = 0;
    if (this.inBlock > 0) {
      off = Math.min(size - this.inBlock, part.length);
      this.crc = crc32(part.subarray(0, off), this.crc);
      this.inBlock += off;
      if (this.inBlock === size) this.closeBlock();
    }
    const whole = Math.floor((part.length - off) / size) * size;
    if (whole > 0) {
      this.items.push(blockCrc32sOffThread(part.subarray(off, off + whole), size));
      off += whole;
    }
    if (off < part.length) {
      this.crc = crc32(part.subarray(off));
      this.inBlock = part.length - off;
      if (this.inBlock === size) this.closeBlock();
    }
  }

  /** CRC32 of each block of the bytes fed so far, the last one short (none for no bytes). */
  async list(): Promise<number[]> {
    const items = this.items.slice();
    const tail = this.inBlock > 0 ? [this.crc] : [];
    const out: number[] = [];
    for (const item of items) {
      if (typeof item === 'number') out.push(item);
      else for (const crc of await item) out.push(crc);
    }
    if (tail.length) out.push(tail[0]!);
    return out;
  }

  private closeBlock(): void {
    this.items.push(this.crc);
    this.crc = 0;
    this.inBlock = 0;
  }
}

/** The block CRC32s of data (blockCrc32s) computed on the libuv pool; on this thread without the addon. */
export function blockCrc32sOffThread(data: Buffer, blockSizeBytes: number): Promise<number[]> {
  const addon = nativeAddon();
  if (!addon) return Promise.resolve(blockCrc32s(data, blockSizeBytes));
  return new Promise((ok) => addon.crc32Blocks(data, blockSizeBytes, ok));
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
