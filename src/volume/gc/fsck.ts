/**
 * fsck of a volume's data: extent maps and object rows cross-checked with the object store.
 * Read-only: it reports, it does not repair.
 * - missing: objects extents reference that the store does not hold (data loss);
 * - leaked: store keys that are no object's (not a log-segment key, or no row and no extent);
 * - badLiveBytes: rows whose live_bytes differs from the bytes of extents referencing them;
 * - checksumErrors (verifyChecksums): live objects whose bytes do not match their CRC32 blocks;
 * - problems: one line for each of the above plus the extents module's own invariant checks
 *   and size mismatches between rows and the store. Empty when all is well.
 * Keys of provisioned objects (uploads not yet reported) and of dead objects (deletion pending)
 * are expected and not reported.
 */
import type { ObjectStore } from '../../common/objectstore/index.js';
import { objectIdOf } from '../../common/protocol/index.js';
import { badBlocks, type ExtentMaps, type ObjectAudit } from '../extents/index.js';
import type { Metadata } from '../metadata/index.js';

export interface FsckDataReport {
  missing: { objectId: number; key: string; extentBytes: number }[];
  leaked: { key: string; sizeBytes: number }[];
  badLiveBytes: { objectId: number; key: string; liveBytes: number; extentBytes: number }[];
  checksumErrors: { objectId: number; key: string; message: string }[];
  /** Bytes of files whose write-back failed for good (they read as EIO): reported, not a problem. */
  unstoredBytes: number;
  problems: string[];
}

export async function fsckData(_md: Metadata, extents: ExtentMaps, store: ObjectStore, opts: { verifyChecksums?: boolean } = {}): Promise<FsckDataReport> {
  const audit = extents.audit();
  const report: FsckDataReport = { missing: [], leaked: [], badLiveBytes: [], checksumErrors: [], unstoredBytes: audit.unstoredBytes, problems: [] };
  report.problems.push(...audit.problems);
  const inStore = new Map<string, number>();
  for await (const info of store.list('')) inStore.set(info.key, info.sizeBytes);

  const byId = new Map<number, ObjectAudit>(audit.objects.map((o) => [o.objectId, o]));
  for (const o of audit.objects) {
    const stored = inStore.get(o.key);
    if (o.extentBytes > 0 && stored === undefined) {
      report.missing.push({ objectId: o.objectId, key: o.key, extentBytes: o.extentBytes });
      report.problems.push(`object ${o.objectId} (${o.key}) holds ${o.extentBytes} bytes of file data but is missing from the store`);
    }
    if (o.state !== undefined && o.liveBytes !== o.extentBytes) {
      report.badLiveBytes.push({ objectId: o.objectId, key: o.key, liveBytes: o.liveBytes, extentBytes: o.extentBytes });
      report.problems.push(`object ${o.objectId} (${o.key}) has live_bytes ${o.liveBytes}, its extents add up to ${o.extentBytes}`);
    }
    if (o.state === 'live' && stored !== undefined && stored !== o.sizeBytes) {
      report.problems.push(`object ${o.objectId} (${o.key}) is ${stored} bytes in the store, ${o.sizeBytes} were reported`);
    }
  }
  for (const [key, sizeBytes] of inStore) {
    const id = objectIdOf(key);
    if (id !== undefined && byId.has(id)) continue;
    report.leaked.push({ key, sizeBytes });
    report.problems.push(`store key ${key} (${sizeBytes} bytes) belongs to no object`);
  }
  if (opts.verifyChecksums) {
    for (const o of audit.objects) {
      if (o.state !== 'live' || !inStore.has(o.key)) continue;
      const message = await verifyObject(extents, store, o);
      if (message === undefined) continue;
      report.checksumErrors.push({ objectId: o.objectId, key: o.key, message });
      report.problems.push(`object ${o.objectId} (${o.key}): ${message}`);
    }
  }
  return report;
}

async function verifyObject(extents: ExtentMaps, store: ObjectStore, o: ObjectAudit): Promise<string | undefined> {
  const sums = extents.objectChecksums(o.objectId);
  if (!sums) return 'no checksums recorded';
  let data: Buffer;
  try {
    data = await store.get(o.key);
  } catch (err) {
    return `cannot read it: ${(err as Error).message}`;
  }
  if (data.length !== sums.sizeBytes) return `${data.length} bytes read, ${sums.sizeBytes} expected`;
  const bad = badBlocks(data, 0, sums.blockSizeBytes, sums.crc32);
  return bad.length > 0 ? `CRC32 mismatch in block(s) ${bad.join(', ')}` : undefined;
}
