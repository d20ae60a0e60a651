/**
 * fsck of one volume: the namespace's own consistency checks plus a cross-check of extent maps
 * against the object store (missing objects, leaked objects, live-byte counts, optionally
 * every object's CRC32 blocks). Read-only: it reports, it does not repair.
 */
import type { Clock } from '../../common/clock/index.js';
import type { Logger } from '../../common/log/index.js';
import { connectVolumeStore } from '../store.js';
import { PfsError } from '../../common/errors/index.js';
import { openMetadata } from '../metadata/index.js';
import { createNamespace } from '../namespace/index.js';
import { createExtentMaps } from '../extents/index.js';
import { fsckData } from '../gc/index.js';
import type { VolumeSettings } from '../server/index.js';

export interface FsckReport {
  volume: string;
  problems: string[];
  missingObjects: number;
  leakedObjects: number;
  /** Bytes of files whose write-back failed for good: they read as EIO until rewritten (not a problem of the volume). */
  unstoredBytes: number;
}

const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function fsckVolume(settings: Pick<VolumeSettings, 'name' | 'metadataPath' | 'objectStoreUrl' | 'storeAccess'>, opts: { verifyChecksums: boolean; clock: Clock; log?: Logger }): Promise<FsckReport> {
  const md = openMetadata(settings.metadataPath, { readonly: true });
  let store;
  try {
    store = (await connectVolumeStore(settings, opts.log ?? silentLog)).store;
  } catch (err) {
    md.close();
    throw err;
  }
  try {
    if (!md.isFormatted()) throw new PfsError('PFS_ERR_VOLUME_NOT_FORMATTED', `volume ${settings.name} is not formatted`);
    const extents = createExtentMaps(md, { now: () => opts.clock.now() });
    const ns = createNamespace(md, { now: () => opts.clock.now(), fileData: extents });
    const problems = ns.check().map((p) => `namespace: ${p}`);
    const data = await fsckData(md, extents, store, { verifyChecksums: opts.verifyChecksums });
    problems.push(...data.problems.map((p) => `data: ${p}`));
    return { volume: settings.name, problems, missingObjects: data.missing.length, leakedObjects: data.leaked.length, unstoredBytes: data.unstoredBytes };
  } finally {
    md.close();
    await store.close();
  }
}
