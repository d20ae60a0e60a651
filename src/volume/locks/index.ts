/**
 * Locks (docs/LEASES.md §6): flock and POSIX (fcntl) byte-range locks held by the volume
 * server, so that they hold across agents.
 *
 * Parts: ranges.ts (fcntl range arithmetic: split, merge, conflicts), lock-table.ts (per-volume
 * table: flock, FIFO waiters with a wait cap, EDEADLK on wait-for cycles, release by mount).
 * In memory only: a restarted proxyfsd holds no locks.
 */
export { createLockTable, ownerKey, type LockQuery, type LockRequest, type LockStats, type LockTable, type LockTableOptions } from './lock-table.js';
