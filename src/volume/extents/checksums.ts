/**
 * CRC32 (zlib's polynomial, zlib.crc32) of fixed-size blocks of an object, and the BLOB form the
 * objects table keeps them in (uint32 little-endian, one per block).
 */
import { crc32 } from 'node:zlib';

/** Block size of the CRC32 list an agent reports with Wrote (MountResult.checksumBlockSizeBytes). */
export const CHECKSUM_BLOCK_SIZE_BYTES = 65536;

/** CRC32 of each blockSizeBytes block of `data` (the last block may be short; none for empty data). */
export function blockCrc32s(data: Buffer, blockSizeBytes: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < data.length; off += blockSizeBytes) out.push(crc32(data.subarray(off, off + blockSizeBytes)));
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

export function encodeCrcs(crcs: readonly number[]): Buffer {
  const buf = Buffer.alloc(crcs.length * 4);
  crcs.forEach((c, i) => buf.writeUInt32LE(c, i * 4));
  return buf;
}

export function decodeCrcs(blob: Uint8Array | null): number[] {
  if (!blob) return [];
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readUInt32LE(i));
  return out;
}
