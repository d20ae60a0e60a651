/**
 * Mounts of all served volumes: which volume and which RPC client each mount ID belongs to.
 * The table is persistent (mounts rows in each volume's database) and mirrored in memory.
 * A mount whose client stays disconnected for the volume's MountGracePeriod is dropped and
 * its open-file references released; after a server restart every mount gets that grace.
 */
import { randomBytes } from 'node:crypto';
import { PfsError } from '../../common/errors/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Volume } from './volume.js';

interface MountEntry {
  volume: Volume;
  clientId: string;
  graceTimer?: NodeJS.Timeout;
}

export interface Mounts {
  /** Records a new mount inside the caller's transaction on `volume`. */
  add(volume: Volume, clientId: string): string;
  /** Drops a mount inside the caller's transaction on its volume. */
  remove(mountId: string): void;
  volumeOf(mountId: string): Volume;
  onClientConnection(clientId: string, connected: boolean): void;
  list(): { mountId: string; volume: string; clientId: string; connected: boolean }[];
  /** Files the mount holds open: distinct inodes and open references (read-only; admin server). */
  openFiles(mountId: string): { inodes: number; opens: number };
  close(): void;
}

export function createMounts(volumes: Iterable<Volume>, clock: Clock, log: Logger, isConnected: (clientId: string) => boolean): Mounts {
  const table = new Map<string, MountEntry>();

  const dropAfterGrace = (mountId: string, entry: MountEntry): void => {
    clearTimeout(entry.graceTimer);
    entry.graceTimer = setTimeout(() => {
      if (table.get(mountId) !== entry || isConnected(entry.clientId)) return;
      log.warn({ mountId, volume: entry.volume.name }, 'mount disconnected past its grace period: dropping it and releasing its open files');
      try {
        entry.volume.md.transaction(() => mounts.remove(mountId));
      } catch (err) {
        log.error({ mountId, err: (err as Error).message }, 'dropping mount failed');
      }
    }, entry.volume.settings.mountGracePeriodMs);
    entry.graceTimer.unref();
  };

  const mounts: Mounts = {
    add(volume, clientId) {
      const mountId = randomBytes(16).toString('base64url');
      volume.md.db.prepare('INSERT INTO mounts(mount_id, client_id, created_ns) VALUES (?, ?, ?)').run(mountId, clientId, clock.nowNs());
      table.set(mountId, { volume, clientId });
      return mountId;
    },
    remove(mountId) {
      const entry = table.get(mountId);
      if (!entry) throw new PfsError('PFS_ERR_UNKNOWN_MOUNT', `unknown mount ${mountId}`);
      entry.volume.ns.dropMount(mountId);
      entry.volume.md.db.prepare('DELETE FROM mounts WHERE mount_id = ?').run(mountId);
      clearTimeout(entry.graceTimer);
      table.delete(mountId);
    },
    volumeOf(mountId) {
      const entry = table.get(mountId);
      if (!entry) throw new PfsError('PFS_ERR_UNKNOWN_MOUNT', `unknown mount ${mountId} (never mounted, unmounted, or dropped after its grace period)`);
      return entry.volume;
    },
    onClientConnection(clientId, connected) {
      for (const [mountId, entry] of table) {
        if (entry.clientId !== clientId) continue;
        if (connected) {
          clearTimeout(entry.graceTimer);
          entry.graceTimer = undefined;
        } else {
          dropAfterGrace(mountId, entry);
        }
      }
    },
    list() {
      return [...table].map(([mountId, e]) => ({ mountId, volume: e.volume.name, clientId: e.clientId, connected: isConnected(e.clientId) }));
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
    const rows = volume.md.db.prepare('SELECT mount_id, client_id FROM mounts').all() as { mount_id: string; client_id: string }[];
    for (const row of rows) {
      const entry: MountEntry = { volume, clientId: row.client_id };
      table.set(row.mount_id, entry);
      dropAfterGrace(row.mount_id, entry);
    }
  }
  return mounts;
}
