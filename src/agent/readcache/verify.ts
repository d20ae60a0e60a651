/**
 * Verification of one fetched read-cache line against the CRC32 list of its object: the same
 * convention as the volume server (volume/extents/checksums.ts): CRC32 (zlib.crc32) of every
 * blockSizeBytes block of the object, the last block short. A line starts on a block boundary
 * and is a whole number of blocks long (or ends with the object's short last block), so every
 * block it holds is checked.
 */
import { crc32 } from 'node:zlib';
import { PfsError } from '../../common/errors/index.js';
import { badBlocks } from '../../common/checksum/index.js';
import type { ObjectChecksums } from '../../common/protocol/index.js';

/** Throws PFS_ERR_CONFIG when lineSizeBytes is not a whole number of obj's checksum blocks. */
export function checkLineGeometry(obj: ObjectChecksums, lineSizeBytes: number): void {
  const b = obj.blockSizeBytes;
  if (!Number.isSafeInteger(b) || b <= 0 || lineSizeBytes % b !== 0) {
    throw new PfsError('PFS_ERR_CONFIG', `read-cache line size ${lineSizeBytes} is not a multiple of the checksum block size ${b} of object ${obj.key} (id ${obj.objectId}); set ReadCacheLineSize to a multiple of ${b}`);
  }
}

/**
 * Checks `data`, the bytes [lineStart, lineStart + expectedLength) of obj. A short read (the
 * object is smaller than recorded) or a block whose CRC32 differs rejects with PFS_ERR_CHECKSUM,
 * naming the object and the block; the caller adds the inode.
 */
export function verifyLine(obj: ObjectChecksums, lineStart: number, expectedLength: number, data: Buffer): void {
  if (data.length !== expectedLength) {
    throw new PfsError('PFS_ERR_CHECKSUM', `object ${obj.key} (id ${obj.objectId}): got ${data.length} bytes at offset ${lineStart}, expected ${expectedLength} (the object is shorter than its recorded ${obj.sizeBytes} bytes)`);
  }
  const b = obj.blockSizeBytes;
  const [block] = badBlocks(data, lineStart / b, b, obj.crc32);
  if (block !== undefined) {
    const off = (block - lineStart / b) * b;
    const at = lineStart + off;
    const expected = obj.crc32[block];
    const actual = crc32(data.subarray(off, off + b));
    const shown = expected === undefined ? 'none recorded' : `expected ${hex(expected)}`;
    throw new PfsError('PFS_ERR_CHECKSUM', `object ${obj.key} (id ${obj.objectId}): CRC32 mismatch in block ${block} (bytes ${at}..${at + Math.min(b, data.length - off) - 1}): got ${hex(actual)}, ${shown}`);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
