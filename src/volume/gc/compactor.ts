/**
 * Compaction: objects whose live bytes fell below compactionLiveRatio of their size have their
 * live pieces copied, packed one after another, into one new object; then one transaction
 * repoints the extents. Steps of a run:
 *   pick   candidates, emptiest first, up to compactionMaxBytesPerRun live bytes (at least one);
 *   read   each old object's live pieces, whole covering CRC32 blocks at a time, verified
 *          against the CRCs its Wrote reported (a mismatch skips that object and is counted);
 *   write  the new object (a provisioned id) and its CRC32 blocks;
 *   commit extents.repoint per old object, in one transaction. Pieces a Wrote changed meanwhile
 *          are not repointed. The old objects' live bytes drop, they die, the deleter removes
 *          them later. If the put or commit fails, the new object stays provisioned and expires.
 */
import { PfsError } from '../../common/errors/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Extent, Ino, ObjectChecksums } from '../../common/protocol/index.js';
import { badBlocks, blockCrc32s, CHECKSUM_BLOCK_SIZE_BYTES, type MovedPiece } from '../extents/index.js';
import type { GcOptions, GcStats } from './types.js';

const MAX_CANDIDATES = 64;

type Piece = Extent & { ino: Ino };

export async function runCompaction(o: GcOptions, stats: GcStats, stopping: () => boolean): Promise<number> {
  stats.compactionRuns++;
  let budget = o.compactionMaxBytesPerRun;
  const chosen = o.extents.compactionCandidates(o.compactionLiveRatio, MAX_CANDIDATES).filter((c, i) => {
    if (i > 0 && c.liveBytes > budget) return false;
    budget -= c.liveBytes;
    return true;
  });
  const parts: Buffer[] = [];
  const moves = new Map<number, MovedPiece[]>();
  let at = 0;
  for (const c of chosen) {
    if (stopping()) return 0;
    const sums = o.extents.objectChecksums(c.objectId);
    const pieces = o.extents.liveExtentsOf(c.objectId);
    if (!sums || pieces.length === 0) continue;
    let data: Buffer[];
    try {
      data = await readVerified(o.store, sums, pieces);
    } catch (err) {
      if ((err as PfsError).code === 'PFS_ERR_CHECKSUM') stats.checksumErrors++;
      else stats.storeErrors++;
      stats.lastError = (err as Error).message;
      o.log.error({ err, objectId: c.objectId, key: c.key }, 'gc: cannot read an object to compact; skipping it');
      continue;
    }
    const moved: MovedPiece[] = [];
    pieces.forEach((p, i) => {
      parts.push(data[i]!);
      moved.push({ ino: p.ino, fileOffset: p.fileOffset, length: p.length, oldObjectOffset: p.objectOffset, newObjectOffset: at });
      at += p.length;
    });
    moves.set(c.objectId, moved);
  }
  if (at === 0 || stopping()) return 0;

  const body = Buffer.concat(parts, at);
  const [{ objectId, key }] = o.md.transaction(() => o.extents.provision(1)) as [{ objectId: number; key: string }];
  const newObject = { objectId, sizeBytes: body.length, blockSizeBytes: CHECKSUM_BLOCK_SIZE_BYTES, crc32: blockCrc32s(body, CHECKSUM_BLOCK_SIZE_BYTES) };
  try {
    await o.store.put(key, body);
  } catch (err) {
    stats.storeErrors++;
    stats.lastError = (err as Error).message;
    o.log.error({ err, key }, 'gc: writing a compacted object failed; will retry next run');
    return 0;
  }
  const compacted = o.md.transaction(() => {
    let n = 0;
    for (const [oldId, moved] of moves) if (o.extents.repoint(oldId, moved, newObject) > 0) n++;
    return n;
  });
  stats.compactedObjects += compacted;
  stats.compactedBytes += body.length;
  o.log.info({ objects: [...moves.keys()], into: objectId, key, bytes: body.length, compacted }, 'gc: compacted objects');
  return compacted;
}

/**
 * The bytes of each piece (sorted by objectOffset), read as whole CRC32 blocks and verified.
 * Pieces whose blocks touch or overlap share one ranged get.
 */
export async function readVerified(store: ObjectStore, sums: ObjectChecksums, pieces: readonly Piece[]): Promise<Buffer[]> {
  const bs = sums.blockSizeBytes;
  const out: Buffer[] = new Array(pieces.length);
  let i = 0;
  while (i < pieces.length) {
    const first = Math.floor(pieces[i]!.objectOffset / bs);
    let endBlock = Math.ceil((pieces[i]!.objectOffset + pieces[i]!.length) / bs);
    let j = i + 1;
    while (j < pieces.length && Math.floor(pieces[j]!.objectOffset / bs) <= endBlock) {
      endBlock = Math.max(endBlock, Math.ceil((pieces[j]!.objectOffset + pieces[j]!.length) / bs));
      j++;
    }
    const offset = first * bs;
    const length = Math.min(sums.sizeBytes, endBlock * bs) - offset;
    const buf = await store.get(sums.key, { offset, length });
    if (buf.length !== length) throw new PfsError('PFS_ERR_CHECKSUM', `object ${sums.key}: read ${buf.length} bytes at ${offset}, expected ${length}`);
    const bad = badBlocks(buf, first, bs, sums.crc32);
    if (bad.length > 0) throw new PfsError('PFS_ERR_CHECKSUM', `object ${sums.key}: CRC32 mismatch in block(s) ${bad.join(', ')}`);
    for (; i < j; i++) out[i] = buf.subarray(pieces[i]!.objectOffset - offset, pieces[i]!.objectOffset - offset + pieces[i]!.length);
  }
  return out;
}
