/**
 * agent/lease: the client side of the lease protocol (docs/LEASES.md §1-§4).
 *
 * An operation that caches (getattr, open, read) takes a Shared guard of the inode; one that
 * buffers or changes data (write, truncate, fsync/close with dirty data, setattr) an Exclusive
 * guard. The lease stays cached after the operation, until the server interrupts it (another
 * mount needs it), a limit (SharedLeaseLimit, ExclusiveLeaseLimit) pushes it out, or the mount
 * is evicted.
 *
 * Parts: lease-manager.ts (per-inode state machine and FIFO, guards, interrupts, transitions),
 * entry.ts (the per-inode record), limits.ts (which leases SharedLeaseLimit/ExclusiveLeaseLimit
 * push out), retry.ts (LeaseRetry* keys), eviction.ts (what the agent does when the server says
 * its mount was evicted), reclaim.ts (what it claims after a proxyfsd restart), types.ts.
 * Invariants: see lease-manager.ts. The manager knows nothing of writeback or caches: it
 * reaches them through LeaseCallbacks (flush, dropped) that main.ts wires.
 */
export { createLeaseManager } from './lease-manager.js';
export { createMountRecovery, type MountRecovery, type MountRecoveryOptions } from './eviction.js';
export { createReclaimer, type Reclaimer, type ReclaimerOptions } from './reclaim.js';
export type {
  LeaseCallbacks, LeaseGuard, LeaseManager, LeaseManagerOptions, LeaseMode, LeaseRetry, LeaseServer, LeaseSnapshot,
  LeaseState, LeaseStats, LeaseTransition, Timers,
} from './types.js';

/** setTimeout-based timers (unref'd: a retry delay never keeps the process alive). */
export function systemTimers(): { after(ms: number, fn: () => void): () => void } {
  return {
    after(ms, fn) {
      const t = setTimeout(fn, Math.max(0, ms));
      t.unref();
      return () => clearTimeout(t);
    },
  };
}

/** An inode number as the reference prints it: 16 upper-case hex digits. */
export function inoHex(ino: number): string {
  return ino.toString(16).toUpperCase().padStart(16, '0');
}
