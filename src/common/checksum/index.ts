/**
 * The checksum convention shared by agent and volume server: CRC32 (zlib's polynomial,
 * zlib.crc32) of every blockSizeBytes block of a log-segment object, the last block short.
 * The agent computes the list when it writes a segment and verifies blocks as it reads them;
 * the volume server stores the list with the object and uses it for compaction and fsck.
 */
import { crc32 } from 'node:zlib';

/**
 * CRC32 of each blockSizeBytes block of the bytes of `parts` taken in order (the last block may
 * be short; none for no bytes). A block may span parts: its CRC is continued across them.
 */
export function blockCrc32s(parts: Buffer | readonly Buffer[], blockSizeBytes: number): number[] {
  const out: number[] = [];
  let crc = 0;
  let inBlock = 0;
  for (const part of Buffer.isBuffer(parts) ? [parts] : parts) {
    for (let off = 0; off < part.length;) {
      const n = Math.min(blockSizeBytes - inBlock, part.length - off);
      crc = crc32(part.subarray(off, off + n), crc);
      inBlock += n;
      off += n;
      if (inBlock === blockSizeBytes) {
        out.push(crc);
        crc = 0;
        inBlock = 0;
      }
    }
  }
  if (inBlock > 0) out.push(crc);
  return out;
}

/** Indexes of the blocks of `data` (which starts at block `firstBlock`) whose CRC32 is not `expected[i]`. */
export function badBlocks(data: Buffer, firstBlock: number, blockSizeBytes: number, expected: readonly number[]): number[] {
  const bad: number[] = [];
  for (let off = 0, b = firstBlock; off < data.length; off += blockSizeBytes, b++) {
    if (crc32(data.subarray(off, off + blockSizeBytes)) !== expected[b]) bad.push(b);
  }
  return bad;
}
