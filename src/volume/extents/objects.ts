/**
 * Log-segment objects: provisioning, the checks a Wrote (or a compaction repoint) must pass,
 * first-use registration, and per-object live-byte accounting.
 *
 * Errors: a malformed report (block size, CRC count, extents outside the object, overlapping
 * extents, a second report that disagrees with the first) is FsError EINVAL. An object that is
 * not ours to write into (never provisioned, expired, or already dead and queued for deletion)
 * is PfsError PFS_ERR_STALE_OBJECT, so an agent can tell "provision a new object and rewrite"
 * (it still holds the bytes) from "my report is wrong".
 */
import { FsError, PfsError } from '../../common/errors/index.js';
import { objectKey, UNSTORED_OBJECT_ID, type Extent, type ObjectChecksums, type WroteParams } from '../../common/protocol/index.js';
import type { Metadata } from '../metadata/index.js';
import { CHECKSUM_BLOCK_SIZE_BYTES, decodeCrcs, encodeCrcs } from './checksums.js';
import type { ObjectRow, Statements } from './sql.js';

export type ObjectReport = WroteParams['object'];

/** Numbers one ProvisionObject call may ask for (an agent asks for 64 at a time). */
const MAX_PROVISION = 64;
/**
 * Unreported numbers one mount may hold. Provisioning past it disowns the mount's oldest, which
 * then expire after ProvisionedObjectTTL; an agent still using one gets PFS_ERR_STALE_OBJECT and
 * writes that segment again under a fresh number.
 */
export const MAX_PROVISIONED_PER_MOUNT = 4096;
const USED_BYTES_KEY = 'used_bytes';

const isUint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function einval(msg: string): never {
  throw new FsError('EINVAL', msg);
}

/** count new object ids, owned by mountId (null: by nobody, they expire by age alone). */
export function provision(s: Statements, md: Metadata, nowNs: bigint, count: number, mountId: string | null): { objectId: number; key: string }[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_PROVISION) einval(`provision count ${count} is not in 1..${MAX_PROVISION}`);
  const first = md.nextCounter('next_object_id', count);
  const out: { objectId: number; key: string }[] = [];
  for (let id = first; id < first + count; id++) {
    s.insertObject.run(id, nowNs, mountId);
    out.push({ objectId: id, key: objectKey(id) });
  }
  if (mountId !== null) {
    const over = s.provisionedOf.get(mountId)!.n - MAX_PROVISIONED_PER_MOUNT;
    if (over > 0) s.disownOldest.run(nowNs, mountId, over);
  }
  return out;
}

/** The shape checks of an object report (EINVAL). */
export function checkReport(o: ObjectReport): void {
  if (!isUint(o.objectId)) einval(`object id ${o.objectId} is not a non-negative integer`);
  if (!isUint(o.sizeBytes)) einval(`object ${o.objectId}: size ${o.sizeBytes} is not a non-negative integer`);
  if (o.blockSizeBytes !== CHECKSUM_BLOCK_SIZE_BYTES) einval(`object ${o.objectId}: checksum block size ${o.blockSizeBytes}, expected ${CHECKSUM_BLOCK_SIZE_BYTES}`);
  const blocks = Math.ceil(o.sizeBytes / o.blockSizeBytes);
  if (!Array.isArray(o.crc32) || o.crc32.length !== blocks) einval(`object ${o.objectId}: ${o.crc32?.length} CRC32s for ${o.sizeBytes} bytes, expected ${blocks}`);
  for (const c of o.crc32) if (!isUint(c) || c > 0xffffffff) einval(`object ${o.objectId}: CRC32 ${c} is not a uint32`);
}

/** The extents of one report: positive lengths inside the object, not overlapping. Sorted copy. */
export function checkExtents(o: ObjectReport, extents: readonly Extent[]): Extent[] {
  if (!Array.isArray(extents)) einval('extents is not an array');
  for (const e of extents) {
    if (!isUint(e.fileOffset) || !isUint(e.objectOffset) || !isUint(e.length) || e.length === 0) einval(`bad extent ${JSON.stringify(e)}`);
    if (!Number.isSafeInteger(e.fileOffset + e.length)) einval(`extent ${JSON.stringify(e)} ends past the largest file offset`);
    if (e.objectId !== o.objectId) einval(`extent ${JSON.stringify(e)} is not in object ${o.objectId}`);
    if (e.objectOffset + e.length > o.sizeBytes) einval(`extent ${JSON.stringify(e)} ends past the end of object ${o.objectId} (${o.sizeBytes} bytes)`);
  }
  const sorted = [...extents].sort((a, b) => a.fileOffset - b.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    if (p.fileOffset + p.length > sorted[i]!.fileOffset) einval(`extents ${JSON.stringify(p)} and ${JSON.stringify(sorted[i])} overlap`);
  }
  return sorted;
}

/**
 * The row of an object a report may write into: provisioned (first report) or live with the
 * same size and checksums (a later report: another file, or a retried chunk). With byMount (an
 * agent's Wrote), only an object provisioned to that mount and not yet reported: an agent
 * cannot attach another mount's object, or one already in a file, to a file of its choice.
 */
export function writableObject(s: Statements, o: ObjectReport, byMount?: string): ObjectRow {
  const row = s.object.get(o.objectId);
  if (!row || row.state === 'dead') {
    throw new PfsError('PFS_ERR_STALE_OBJECT', `object ${o.objectId} (${objectKey(o.objectId)}) ${row ? 'is dead' : 'was never provisioned or has expired'}; provision a new one`);
  }
  if (byMount !== undefined && (row.state !== 'provisioned' || row.mountId !== byMount)) {
    throw new PfsError('PFS_ERR_STALE_OBJECT', `object ${o.objectId} (${objectKey(o.objectId)}) is not a number provisioned to this mount and still unreported; provision a new one`);
  }
  if (row.state === 'live') {
    if (row.sizeBytes !== o.sizeBytes || row.blockSizeBytes !== o.blockSizeBytes || !encodeCrcs(o.crc32).equals(row.crc32 ?? Buffer.alloc(0))) {
      einval(`object ${o.objectId} was reported before with another size or other checksums`);
    }
  }
  return row;
}

/** First use of a provisioned object: record its size and checksums and make it live. */
export function register(s: Statements, o: ObjectReport): void {
  s.register.run(o.sizeBytes, o.blockSizeBytes, encodeCrcs(o.crc32), o.objectId);
}

export function checksumsOf(row: ObjectRow): ObjectChecksums {
  return { objectId: row.objectId, key: objectKey(row.objectId), sizeBytes: row.sizeBytes, blockSizeBytes: row.blockSizeBytes, crc32: decodeCrcs(row.crc32) };
}

export function usedBytes(md: Metadata): number {
  return Number(md.getMeta(USED_BYTES_KEY) ?? '0');
}

/**
 * Live-byte changes collected while patching extent maps, applied once at the end. A live
 * object left with no live bytes becomes dead (dead_since = now).
 */
export class LiveBytes {
  private readonly delta = new Map<number, number>();

  add(objectId: number, bytes: number): void {
    if (objectId === UNSTORED_OBJECT_ID) return; // no object, no live or used bytes
    this.delta.set(objectId, (this.delta.get(objectId) ?? 0) + bytes);
  }

  /** Returns how many objects died. */
  commit(s: Statements, md: Metadata, nowNs: bigint): number {
    let died = 0;
    let used = 0;
    for (const [id, d] of this.delta) {
      used += d;
      if (d !== 0) {
        if (s.addLive.run(d, id).changes !== 1) throw new PfsError('PFS_ERR_INTERNAL', `an extent references object ${id}, which has no row`);
        const live = s.object.get(id)!.liveBytes;
        if (live < 0) throw new PfsError('PFS_ERR_INTERNAL', `object ${id} would have ${live} live bytes`);
      }
      died += s.markDeadIfEmpty.run(nowNs, id).changes;
    }
    if (used !== 0) md.setMeta(USED_BYTES_KEY, String(usedBytes(md) + used));
    this.delta.clear();
    return died;
  }
}
