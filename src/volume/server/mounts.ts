/**
 * Mounts of all served volumes: which volume and which RPC client each mount ID belongs to.
 * The table is persistent (mounts rows in each volume's database) and mirrored in memory.
 * A mount whose client stays disconnected for the volume's MountGracePeriod is dropped and
 * its open-file references, leases and locks released; after a server restart every mount
 * gets that grace.
 * Object numbers provisioned for a mount stay valid while it is live; when it is removed or
 * evicted they are disowned, and expire ProvisionedObjectTTL later (extents/index.ts).
 * An evicted mount (it left a lease interrupt unanswered, docs/LEASES.md §3) loses its opens,
 * leases and locks at once but keeps its row, marked evicted_ns: fence() refuses every later
 * request with its ID, also after a restart.
 */
import { randomBytes } from 'node:crypto';
import { PfsError } from '../../common/errors/index.js';
import { shortId } from '../../common/log/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Ino } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Volume } from './volume.js';

interface MountEntry {
  volume: Volume;
  clientId: string;
  /** The peer key that made the mount (undefined: a row from before schema 4, bound on first use). */
  owner: string | undefined;
  evicted: boolean;
  graceTimer?: NodeJS.Timeout;
}

export interface MountInfo {
  mountId: string;
  volume: string;
  clientId: string;
  connected: boolean;
  evicted: boolean;
}

export interface Mounts {
  /** Records a new mount of clientId, made by the authenticated peer `owner`, inside the caller's transaction on `volume`. */
  add(volume: Volume, clientId: string, owner: string): string;
  /** Drops a mount inside the caller's transaction on its volume. */
  remove(mountId: string): void;
  /**
   * The mount's volume; throws PFS_ERR_MOUNT_EVICTED or PFS_ERR_UNKNOWN_MOUNT. A mount is
   * usable only by the client that made it: for any other clientId it is unknown.
   */
  volumeOf(mountId: string, clientId: string): Volume;
  /** Throws PFS_ERR_MOUNT_EVICTED when `mountId` names an evicted mount of clientId (the fence, checked before anything runs). */
  fence(mountId: unknown, clientId: string): void;
  /** Why peer may not use clientId (a mount of it belongs to another peer), or undefined; binds older unowned mounts to peer. */
  clientRefusal(clientId: string, peer: string): string | undefined;
  /** The RPC client of a live mount. */
  clientOf(mountId: string): string | undefined;
  /**
   * Evicts a mount (its agent left the lease interrupt for `ino` unanswered, or `why`: its
   * claim after a restart could not be granted): marks it evicted durably, releases its opens,
   * leases and locks, logs one line. Runs its own transaction (a savepoint inside a batch).
   */
  evict(mountId: string, ino: Ino, why?: string): void;
  onClientConnection(clientId: string, connected: boolean): void;
  list(): MountInfo[];
  /** Files the mount holds open: distinct inodes and open references (read-only; admin server). */
  openFiles(mountId: string): { inodes: number; opens: number };
  close(): void;
}

/** onGone: called when a mount is removed or evicted (its object-store token is forgotten). */
export function createMounts(volumes: Iterable<Volume>, clock: Clock, log: Logger, isConnected: (clientId: string) => boolean, onGone: (mountId: string) => void = () => {}): Mounts {
  const table = new Map<string, MountEntry>();

  const evictedError = (mountId: string): PfsError =>
    new PfsError('PFS_ERR_MOUNT_EVICTED', `mount ${String(shortId(mountId))} was evicted (a lease interrupt went unanswered, or its claim after a proxyfsd restart could not be granted); mount again`);

  /** Releases the mount's leases and locks (memory only); their waiting requests fail with `reason`. */
  const dropCoordination = (mountId: string, entry: MountEntry, reason: Error): void => {
    entry.volume.leases.dropMount(mountId, reason);
    entry.volume.dirLeases.dropMount(mountId);
    entry.volume.locks.dropMount(mountId, reason);
    entry.volume.reclaim.forget(mountId);
  };

  const dropAfterGrace = (mountId: string, entry: MountEntry): void => {
    clearTimeout(entry.graceTimer);
    entry.graceTimer = setTimeout(() => {
      if (table.get(mountId) !== entry || isConnected(entry.clientId)) return;
      log.warn({ mountId: shortId(mountId), volume: entry.volume.name }, 'mount disconnected past its grace period: dropping it and releasing its open files');
      try {
        entry.volume.md.transaction(() => mounts.remove(mountId));
      } catch (err) {
        log.error({ mountId: shortId(mountId), err: (err as Error).message }, 'dropping mount failed');
      }
    }, entry.volume.settings.mountGracePeriodMs);
    entry.graceTimer.unref();
  };

  const mounts: Mounts = {
    add(volume, clientId, owner) {
      const mountId = randomBytes(16).toString('base64url');
      volume.md.db.prepare('INSERT INTO mounts(mount_id, client_id, created_ns, owner) VALUES (?, ?, ?, ?)').run(mountId, clientId, clock.nowNs(), owner);
      table.set(mountId, { volume, clientId, owner, evicted: false });
      return mountId;
    },
    remove(mountId) {
      const entry = table.get(mountId);
      if (!entry) throw new PfsError('PFS_ERR_UNKNOWN_MOUNT', `unknown mount ${String(shortId(mountId))}`);
      if (entry.evicted) throw evictedError(mountId);
      entry.volume.ns.dropMount(mountId);
      entry.volume.extents.disownProvisioned(mountId);
      entry.volume.md.db.prepare('DELETE FROM mounts WHERE mount_id = ?').run(mountId);
      clearTimeout(entry.graceTimer);
      table.delete(mountId);
      onGone(mountId);
      dropCoordination(mountId, entry, new PfsError('PFS_ERR_UNKNOWN_MOUNT', `mount ${String(shortId(mountId))} was unmounted or dropped after its grace period`));
    },
    volumeOf(mountId, clientId) {
      const entry = table.get(mountId);
      if (!entry || entry.clientId !== clientId) throw new PfsError('PFS_ERR_UNKNOWN_MOUNT', `unknown mount ${String(shortId(mountId))} (never mounted, unmounted, or dropped after its grace period)`);
      if (entry.evicted) throw evictedError(mountId);
      return entry.volume;
    },
    fence(mountId, clientId) {
      if (typeof mountId !== 'string') return;
      const entry = table.get(mountId);
      if (entry?.evicted && entry.clientId === clientId) throw evictedError(mountId);
    },
    clientRefusal(clientId, peer) {
      const unowned: [string, MountEntry][] = [];
      for (const [mountId, entry] of table) {
        if (entry.clientId !== clientId) continue;
        if (entry.owner === undefined) unowned.push([mountId, entry]);
        else if (entry.owner !== peer) return 'this client ID belongs to another peer (one of its mounts was made by another)';
      }
      for (const [mountId, entry] of unowned) {
        entry.owner = peer;
        try {
          entry.volume.md.db.prepare('UPDATE mounts SET owner = ? WHERE mount_id = ? AND owner IS NULL').run(peer, mountId);
        } catch (err) {
          log.error({ mountId: shortId(mountId), err: (err as Error).message }, 'binding a mount to its peer failed (it stays bound in memory)');
        }
      }
      return undefined;
    },
    clientOf(mountId) {
      const entry = table.get(mountId);
      return entry && !entry.evicted ? entry.clientId : undefined;
    },
    evict(mountId, ino, why = 'it left a lease interrupt unanswered') {
      const entry = table.get(mountId);
      if (!entry || entry.evicted) return;
      entry.evicted = true;
      onGone(mountId);
      clearTimeout(entry.graceTimer);
      entry.graceTimer = undefined;
      const { volume } = entry;
      log.warn({ volume: volume.name, mountId: shortId(mountId), clientId: shortId(entry.clientId), ino }, `mount evicted: ${why}; its leases, locks and opens are released and its requests refused`);
      dropCoordination(mountId, entry, evictedError(mountId));
      try {
        volume.md.transaction(() => {
          volume.ns.dropMount(mountId);
          volume.extents.disownProvisioned(mountId);
          volume.md.db.prepare('UPDATE mounts SET evicted_ns = ? WHERE mount_id = ?').run(clock.nowNs(), mountId);
        });
      } catch (err) {
        // The fence still holds in memory; after a restart the mount would only get its grace period.
        log.error({ volume: volume.name, mountId: shortId(mountId), err: (err as Error).message }, 'recording the eviction failed');
      }
    },
    onClientConnection(clientId, connected) {
      for (const [mountId, entry] of table) {
        if (entry.clientId !== clientId || entry.evicted) continue;
        if (connected) {
          clearTimeout(entry.graceTimer);
          entry.graceTimer = undefined;
        } else {
          dropAfterGrace(mountId, entry);
        }
      }
    },
    list() {
      return [...table].map(([mountId, e]) => ({ mountId, volume: e.volume.name, clientId: e.clientId, connected: isConnected(e.clientId), evicted: e.evicted }));
    },
    openFiles(mountId) {
      const entry = table.get(mountId);
      if (!entry) return { inodes: 0, opens: 0 };
      const row = entry.volume.md.db.prepare('SELECT COUNT(*) AS inodes, COALESCE(SUM(count), 0) AS opens FROM opens WHERE mount_id = ?').get(mountId) as { inodes: number; opens: number };
      return { inodes: row.inodes, opens: row.opens };
    },
    close() {
      for (const entry of table.values()) clearTimeout(entry.graceTimer);
    },
  };

  for (const volume of volumes) {
    const rows = volume.md.db.prepare('SELECT mount_id, client_id, evicted_ns, owner FROM mounts').all() as { mount_id: string; client_id: string; evicted_ns: number | bigint | null; owner: string | null }[];
    for (const row of rows) {
      const entry: MountEntry = { volume, clientId: row.client_id, owner: row.owner ?? undefined, evicted: row.evicted_ns !== null };
      table.set(row.mount_id, entry);
      if (!entry.evicted) dropAfterGrace(row.mount_id, entry);
    }
  }
  return mounts;
}
