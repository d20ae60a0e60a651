/**
 * CRC32 (zlib's polynomial, zlib.crc32) of fixed-size blocks of an object, and the BLOB form the
 * objects table keeps them in (uint32 little-endian, one per block).
 */

/** Block size of the CRC32 list an agent reports with Wrote (MountResult.checksumBlockSizeBytes). */
export const CHECKSUM_BLOCK_SIZE_BYTES = 65536;

export { blockCrc32s, badBlocks } from '../../common/checksum/index.js';

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
