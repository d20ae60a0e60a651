/**
 * Formatting a volume: an empty metadata database with the root directory (inode 1) and an
 * empty object store location. A volume that already holds data (inodes, objects, or keys in
 * its object store) is refused unless `force`, which deletes it all first.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { PfsError } from '../../common/errors/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { ObjectStore } from '../../common/objectstore/index.js';
import type { Logger } from '../../common/log/index.js';
import { connectVolumeStore } from '../store.js';
import { openMetadata } from '../metadata/index.js';
import { formatNamespace } from '../namespace/index.js';
import { CHECKSUM_BLOCK_SIZE_BYTES } from '../extents/index.js';
import type { VolumeSettings } from '../server/index.js';

export interface FormatOptions {
  force: boolean;
  /** Succeed without change when the volume is already formatted (make run uses this). */
  ifNeeded: boolean;
  root: { uid: number; gid: number; mode: number };
  clock: Clock;
  /** Where the object store's retries and the plug-in log (default: nowhere). */
  log?: Logger;
}

export type FormatOutcome = 'formatted' | 'already-formatted';

const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function formatVolume(settings: Pick<VolumeSettings, 'name' | 'metadataPath' | 'objectStoreUrl' | 'storeAccess'>, opts: FormatOptions): Promise<FormatOutcome> {
  if (settings.objectStoreUrl.startsWith('file:')) mkdirSync(new URL(settings.objectStoreUrl).pathname, { recursive: true });
  mkdirSync(dirname(settings.metadataPath), { recursive: true });
  const store = (await connectVolumeStore(settings, opts.log ?? silentLog, { create: true })).store;
  try {
    let md = openMetadata(settings.metadataPath);
    const formatted = md.isFormatted();
    const inodes = formatted ? (md.db.prepare('SELECT count(*) AS n FROM inodes').get() as { n: number }).n : 0;
    md.close();
    if (formatted && opts.ifNeeded && !opts.force) return 'already-formatted';
    const keys = await firstKeys(store, 3);
    if (!opts.force && (formatted || keys.length > 0)) {
      const what = formatted ? `its metadata database ${settings.metadataPath} is already formatted (${inodes} inodes)` : `its object store ${settings.objectStoreUrl} already holds objects (${keys.join(', ')}${keys.length === 3 ? ', ...' : ''})`;
      throw new PfsError('PFS_ERR_VOLUME_NOT_EMPTY', `volume ${settings.name}: ${what}; refusing to format (use --force to erase it)`);
    }
    if (opts.force) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(settings.metadataPath + suffix, { force: true });
      for await (const info of store.list('')) await store.delete(info.key);
    }
    md = openMetadata(settings.metadataPath);
    try {
      md.transaction(() => {
        formatNamespace(md, opts.root, opts.clock.now());
        md.setMeta('volume_name', settings.name);
        md.setMeta('checksum_block_size', String(CHECKSUM_BLOCK_SIZE_BYTES));
        md.setMeta('formatted_ns', String(opts.clock.nowNs()));
        if (md.getMeta('next_object_id') === undefined) md.setMeta('next_object_id', '1');
      });
    } finally {
      md.close();
    }
    return 'formatted';
  } finally {
    await store.close();
  }
}

async function firstKeys(store: ObjectStore, n: number): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list('')) {
    keys.push(info.key);
    if (keys.length >= n) break;
  }
  return keys;
}
