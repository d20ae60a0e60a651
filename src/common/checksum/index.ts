/**
 * The checksum convention shared by agent and volume server: CRC32 (zlib's polynomial,
 * zlib.crc32) of every blockSizeBytes block of a log-segment object, the last block short.
 * The agent computes the list as it fills a segment (BlockCrc32, fed each write's bytes just
 * after copying them, whole blocks hashed on the thread pool) and verifies blocks as it reads
 * them; the volume server stores the list with the object and uses it for compaction and fsck.
 */
import { crc32 } from 'node:zlib';
import { nativeAddon } from '../native/addon.js';

/** Hashes data, a whole number of blocks: the CRC32 of each, now or later. */
export type WholeBlockHasher = (data: Buffer, blockSizeBytes: number) => number[] | Promise<number[]>;

/**
 * The block CRC32s of a byte stream fed in order, in pieces of any size (a block may span
 * pieces: its CRC is continued across them). The whole blocks within a piece go to
 * `wholeBlocks` (default: hashed here; the agent's writeback passes blockCrc32sOffThread, so
 * they are hashed on the libuv pool while its main thread answers the next FUSE request; a
 * piece must then not change until settled() resolves); the bytes of a block begun or ended
 * in a piece are hashed here. list() gives the CRCs of the bytes fed so far when every hash
 * is done; settled() waits for them.
 */
export class BlockCrc32 {
  /** Bytes fed so far. */
  sizeBytes = 0;
  /** CRCs of the completed blocks in order, some still being computed. */
  private readonly items: Array<number[] | Promise<number[]>> = [];
  private crc = 0;
  private inBlock = 0;

  constructor(readonly blockSizeBytes: number, private readonly wholeBlocks: WholeBlockHasher = crc32Each) {
    if (!Number.isSafeInteger(blockSizeBytes) || blockSizeBytes < 1 || blockSizeBytes > 0xffffffff) throw new RangeError(`checksum block size ${blockSizeBytes}`);
  }

  update(part: Buffer): void {
    const size = this.blockSizeBytes;
    let off = 0;
    if (this.inBlock > 0) {
      off = Math.min(size - this.inBlock, part.length);
      this.crc = crc32(part.subarray(0, off), this.crc);
      this.inBlock += off;
      if (this.inBlock === size) {
        this.items.push([this.crc]);
        this.crc = 0;
        this.inBlock = 0;
      }
    }
    const whole = Math.floor((part.length - off) / size) * size;
    if (whole > 0) {
      this.items.push(this.wholeBlocks(part.subarray(off, off + whole), size));
      off += whole;
    }
    if (off < part.length) {
      // Less than a block is left: it begins the next one.
      this.crc = crc32(part.subarray(off));
      this.inBlock = part.length - off;
    }
    this.sizeBytes += part.length;
  }

  /** CRC32 of each block of the bytes fed so far, the last one short (none for no bytes). Throws while a hash is under way. */
  list(): number[] {
    const done = this.items.map((item) => {
      if (Array.isArray(item)) return item;
      throw new Error('BlockCrc32.list: block CRCs are still being computed (use settled())');
    });
    return this.collect(done, this.tail());
  }

  /** list(), once every hash of the bytes fed so far is done. */
  async settled(): Promise<number[]> {
    const tail = this.tail();
    const done: number[][] = [];
    for (const item of this.items.slice()) done.push(await item); // snapshot: bytes fed meanwhile are not counted
    return this.collect(done, tail);
  }

  /** The CRC of the block in progress, if any. */
  private tail(): number | undefined {
    return this.inBlock > 0 ? this.crc : undefined;
  }

  private collect(done: readonly number[][], tail: number | undefined): number[] {
    const out: number[] = [];
    for (const crcs of done) for (const crc of crcs) out.push(crc);
    if (tail !== undefined) out.push(tail);
    return out;
  }
}

/** The CRC32 of each block of data, here (WholeBlockHasher). */
function crc32Each(data: Buffer, blockSizeBytes: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < data.length; off += blockSizeBytes) out.push(crc32(data.subarray(off, off + blockSizeBytes)));
  return out;
}

/** The block CRC32s of data (blockCrc32s) computed on the libuv pool; on this thread without the addon. */
export function blockCrc32sOffThread(data: Buffer, blockSizeBytes: number): Promise<number[]> {
  const addon = nativeAddon();
  if (!addon) return Promise.resolve(crc32Each(data, blockSizeBytes));
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
