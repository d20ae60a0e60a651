/**
 * Leases (docs/LEASES.md): which mount may cache (Shared) or buffer writes to (Exclusive) each
 * regular file of a volume, and the revocation of leases other mounts need.
 *
 * Parts: lease-manager.ts (per-volume state machine: grants, FIFO waiters, promotions,
 * eviction, MaxLeases LRU revocation), interrupts.ts (an interrupt's timers: MinLeaseDuration,
 * re-sends every LeaseInterruptInterval, LeaseInterruptLimit), scheduler.ts (timers a test
 * can drive with a manual clock), reclaim.ts (the reclaim period after a restart).
 * The manager knows nothing of RPC or SQL: it reaches agents and fences mounts through the
 * LeaseHooks the server gives it (volume/server wires them to upcalls and the mount table).
 * Invariants: see lease-manager.ts; all state is in memory: after a restart the mounts claim
 * what they held during the reclaim period (reclaim.ts, docs/LEASES.md §8).
 */
export {
  createLeaseManager,
  type LeaseHooks,
  type LeaseManager,
  type LeaseManagerOptions,
  type LeaseSettings,
  type LeaseStats,
} from './lease-manager.js';
export { manualScheduler, timerScheduler, type Cancel, type ManualScheduler, type Scheduler } from './scheduler.js';
export { createReclaimGate, type ReclaimGate, type ReclaimGateOptions } from './reclaim.js';
