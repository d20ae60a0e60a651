/**
 * One served volume: its metadata database, namespace, extent maps, object store, GC, lease
 * manager and lock table, composed. Opening fails loudly when the volume was never formatted.
 */
import { statfsSync } from 'node:fs';
import { PfsError } from '../../common/errors/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Logger } from '../../common/rpc/index.js';
import { createTokenChecker, parseStoreUrl, type ObjectStore, type StoreAccess, type TokenChecker } from '../../common/objectstore/index.js';
import { connectVolumeStore, type StoreMetrics } from '../store.js';
import { openMetadata, type Metadata } from '../metadata/index.js';
import { createNamespace, type Namespace, type VolumeLimits } from '../namespace/index.js';
import { createExtentMaps, type ExtentMaps } from '../extents/index.js';
import { startGc, type Gc, type GcSettings } from '../gc/index.js';
import {
  createLeaseManager, createReclaimGate, type LeaseHooks, type LeaseManager, type LeaseSettings, type ReclaimGate, type Scheduler,
} from '../leases/index.js';
import { createLockTable, type LockTable } from '../locks/index.js';
import { createDirLeases, type DirLeases } from '../leases/dir-leases.js';

/** What the lease manager and lock table of each volume need from the server. */
export interface Coordination {
  settings: LeaseSettings;
  scheduler: Scheduler;
  hooks: LeaseHooks;
  /** Longest hold of a blocking Lock; default LOCK_WAIT_CAP_MS. */
  lockWaitCapMs?: number;
  /** [Leases] ReclaimPeriod; default 0 (no reclaim period). */
  reclaimPeriodMs?: number;
}

export interface VolumeSettings extends GcSettings {
  name: string;
  metadataPath: string;
  objectStoreUrl: string;
  /** How to reach a swift:// or s3:// store; absent means the [Volume:NAME] keys' defaults. */
  storeAccess?: StoreAccess;
  mountGracePeriodMs: number;
  /** [Volume:NAME] CheckAuthTokens (default true; no effect on file:// volumes). */
  checkAuthTokens?: boolean;
  /** [Volume:NAME] AuthTokenCheckPeriod (default 60 s; 0: at Mount and RenewMount only). */
  authTokenCheckPeriodMs?: number;
  /** [Volume:NAME] Capacity in bytes; absent or 0: no limit. */
  capacityBytes?: number;
  /** [Volume:NAME] InodeLimit; absent or 0: no limit. */
  inodeLimit?: number;
}

/** Longest wait for one token check (the volume's SwiftTimeout when shorter). */
const TOKEN_CHECK_TIMEOUT_MS = 10_000;

export interface Volume {
  readonly name: string;
  readonly settings: VolumeSettings;
  readonly md: Metadata;
  readonly ns: Namespace;
  readonly extents: ExtentMaps;
  readonly store: ObjectStore;
  /** Tries agents' object-store tokens (docs/SECURITY.md §4.1); absent when this volume checks none. */
  readonly tokenChecker?: TokenChecker;
  readonly gc: Gc;
  readonly leases: LeaseManager;
  /** Directory leases (docs/LEASES.md §5). */
  readonly dirLeases: DirLeases;
  readonly locks: LockTable;
  /** The reclaim period after the start (docs/LEASES.md §8). */
  readonly reclaim: ReclaimGate;
  close(): Promise<void>;
}

/** The namespace's view of Capacity, InodeLimit and (local stores) the store's filesystem. */
export function volumeLimits(settings: Pick<VolumeSettings, 'capacityBytes' | 'inodeLimit' | 'objectStoreUrl'>): VolumeLimits {
  const where = parseStoreUrl(settings.objectStoreUrl);
  return {
    capacityBytes: settings.capacityBytes || undefined,
    inodes: settings.inodeLimit || undefined,
    storeSpace: where.kind === 'local' ? () => {
      try {
        const st = statfsSync(where.dir);
        return { totalBytes: st.blocks * st.bsize, availBytes: st.bavail * st.bsize };
      } catch {
        return undefined; // unreadable for a moment: df shows the volume without it
      }
    } : undefined,
  };
}

export async function openVolume(settings: VolumeSettings, clock: Clock, log: Logger, coordination: Coordination, storeMetrics?: StoreMetrics): Promise<Volume> {
  const md = openMetadata(settings.metadataPath);
  if (!md.isFormatted()) {
    md.close();
    throw new PfsError('PFS_ERR_VOLUME_NOT_FORMATTED', `volume ${settings.name}: metadata database ${settings.metadataPath} is not formatted (run: pfs format CONF ${settings.name})`);
  }
  const formattedName = md.getMeta('volume_name');
  if (formattedName !== undefined && formattedName !== settings.name) {
    md.close();
    throw new PfsError('PFS_ERR_CONFIG', `volume ${settings.name}: metadata database ${settings.metadataPath} belongs to volume ${formattedName}`);
  }
  let gcRef: Gc | undefined;
  const extents = createExtentMaps(md, { now: () => clock.now(), onObjectDead: () => gcRef?.kick() });
  const ns = createNamespace(md, { now: () => clock.now(), fileData: extents, limits: volumeLimits(settings) });
  let store: ObjectStore;
  let tokenChecker: TokenChecker | undefined;
  try {
    const connected = await connectVolumeStore(settings, log, { metrics: storeMetrics });
    store = connected.store;
    const where = parseStoreUrl(settings.objectStoreUrl);
    if (where.kind !== 'local' && settings.checkAuthTokens !== false && connected.credentials) {
      const timeoutMs = Math.min(settings.storeAccess?.timeoutMs ?? TOKEN_CHECK_TIMEOUT_MS, TOKEN_CHECK_TIMEOUT_MS);
      tokenChecker = createTokenChecker({ where, credentials: connected.credentials, timeoutMs });
    }
  } catch (err) {
    md.close();
    throw err;
  }
  const { deadObjectDeleteDelayMs, gcIntervalMs, compactionIntervalMs, compactionLiveRatio, compactionMaxBytesPerRun, provisionedObjectTtlMs } = settings;
  const gc = startGc({
    store, extents, md, log, now: () => clock.nowNs(),
    deadObjectDeleteDelayMs, gcIntervalMs, compactionIntervalMs, compactionLiveRatio, compactionMaxBytesPerRun, provisionedObjectTtlMs,
  });
  gcRef = gc;
  const leases = createLeaseManager({ clock, scheduler: coordination.scheduler, settings: coordination.settings, hooks: coordination.hooks });
  const dirLeases = createDirLeases({
    clock, scheduler: coordination.scheduler, hooks: coordination.hooks,
    intervalMs: coordination.settings.interruptIntervalMs, limit: coordination.settings.interruptLimit,
  });
  const locks = createLockTable({ scheduler: coordination.scheduler, maxWaitMs: coordination.lockWaitCapMs });
  const before = (md.db.prepare('SELECT mount_id FROM mounts WHERE evicted_ns IS NULL').all() as { mount_id: string }[]).map((r) => r.mount_id);
  const reclaim = createReclaimGate({
    expected: before,
    periodMs: coordination.reclaimPeriodMs ?? 0,
    scheduler: coordination.scheduler,
    onEnd: (late) => {
      const fields = { volume: settings.name, mounts: before.length, late: late.length };
      if (late.length > 0) log.warn({ ...fields, lateMounts: late }, 'reclaim period ended before every mount claimed its leases and locks: a late claim is granted only where nobody was granted anything since');
      else log.info(fields, 'every mount has claimed its leases and locks: reclaim period over');
    },
  });
  if (reclaim.reclaiming) log.info({ volume: settings.name, mounts: before.length, periodMs: coordination.reclaimPeriodMs }, 'reclaim period: mounts from before the start claim their leases and locks; other lease and lock requests wait');
  return {
    name: settings.name, settings, md, ns, extents, store, tokenChecker, gc, leases, dirLeases, locks, reclaim,
    async close() {
      reclaim.close();
      tokenChecker?.close();
      leases.close();
      dirLeases.close();
      locks.close();
      await gc.close();
      await store.close();
      md.close();
    },
  };
}
