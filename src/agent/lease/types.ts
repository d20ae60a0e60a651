/** The public types of the agent's lease manager (re-exported by index.ts). */
import type { Ino, LeaseGrant, LeaseInterruptAction, LeaseRequest } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';

export type LeaseMode = 'shared' | 'exclusive';
export type LeaseState = 'none' | LeaseMode;
/** A server call in progress for an inode. */
export type LeaseTransition = 'requesting' | 'promoting' | 'demoting' | 'releasing';

/** The Lease RPC of this mount (main.ts binds it to the volume client). */
export interface LeaseServer {
  lease(ino: Ino, request: LeaseRequest): Promise<LeaseGrant>;
}

/** What the manager asks of the rest of the agent before it gives a lease up. */
export interface LeaseCallbacks {
  /** Writes back the inode's buffered data (before demote and release of an Exclusive lease).
   *  Must not consume a write failure: the application's next fsync/close still reports it. */
  flush(ino: Ino): Promise<void>;
  /** The lease is being released: drop the inode's cached attributes and extent maps and start
   *  the kernel's invalidation, resolving when it is done. Runs after flush, before the Lease
   *  release call, which waits for it (bounded, and not at all while an operation waits). */
  dropped(ino: Ino): Promise<unknown>;
}

/** Timers, injected so tests drive time. */
export interface Timers {
  /** Runs fn once, ms from now; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

/** [Agent] LeaseRetry* keys: how a lease request the server could not answer is asked again. */
export interface LeaseRetry {
  /** Retries after the first attempt. */
  limit: number;
  delayMs: number;
  /** Jitter, percent of the delay (1..100). */
  delayVariancePercent: number;
  expBackoff: number;
}

export interface LeaseManagerOptions {
  server: LeaseServer;
  callbacks: LeaseCallbacks;
  log: Logger;
  timers: Timers;
  retry: LeaseRetry;
  sharedLimit: number;
  exclusiveLimit: number;
  /** For jitter; default Math.random. */
  random?: () => number;
  /** Longest wait for the kernel's invalidation before a release (default 1000 ms). */
  invalidateWaitMs?: number;
}

/** Held by one operation while it relies on the lease; release() when the operation ends. */
export interface LeaseGuard {
  readonly ino: Ino;
  /** What the operation asked for (the lease may be stronger). */
  readonly mode: LeaseMode;
  /**
   * Identifies this grant of the lease: it changes whenever the lease was released (or the
   * mount replaced) and granted again. A cache entry tagged with it is valid while
   * manager.epoch(ino) still returns it.
   */
  readonly epoch: number;
  release(): void;
}

export interface LeaseStats {
  shared: number;
  exclusive: number;
  /** Inodes with a server call in progress. */
  transitions: number;
  interruptsDemote: number;
  interruptsRelease: number;
  /** Promotions the server refused (PFS_ERR_LEASE_DENIED): released and asked for exclusive. */
  denials: number;
  /** Leases demoted or released because of SharedLeaseLimit / ExclusiveLeaseLimit. */
  limitRevocations: number;
  /** Lease requests asked again (deadline passed, mount replaced). */
  retries: number;
  /** Times the mount was evicted (reset()). */
  evictions: number;
}

/** Inode numbers by state, for GET /leases. */
export interface LeaseSnapshot {
  shared: Ino[];
  exclusive: Ino[];
  requesting: Ino[];
  promoting: Ino[];
  demoting: Ino[];
  releasing: Ino[];
}

export interface LeaseManager {
  acquireShared(ino: Ino): Promise<LeaseGuard>;
  acquireExclusive(ino: Ino): Promise<LeaseGuard>;
  /** The epoch of the lease held on ino, or undefined when none is held (or it is being released). */
  epoch(ino: Ino): number | undefined;
  /**
   * The epoch of the lease on ino as long as the server still counts it as ours (until the
   * release call is sent): an answer fetched while it stays the same was current (another
   * agent could not change the file's data meanwhile).
   */
  heldEpoch(ino: Ino): number | undefined;
  /** True when the manager holds or is getting a lease on ino (so ino is a regular file). */
  known(ino: Ino): boolean;
  /**
   * The server granted a lease with another call (Create or Lookup with lease): held as `mode`
   * from now on, when nothing is known or happening here about ino; false (nothing changes)
   * otherwise (a lease the server counts and this agent does not is released at its first
   * interrupt, as after a deadline).
   */
  adopt(ino: Ino, mode: LeaseMode): boolean;
  /**
   * The server destroyed the inode and dropped its leases itself (Unlink or Rename `gone`): the
   * lease is forgotten here without a call, when nothing uses or waits for it (else it is
   * released later as usual, which the server answers at once). True when forgotten.
   */
  gone(ino: Ino): boolean;
  /** Gives up an idle lease now (the file lost its last name here and nothing has it open: it is
   *  likely gone, and its lease would only take a place under the limits). */
  drop(ino: Ino): void;
  /** A LeaseInterrupt upcall: do what the action requires, then answer with Lease demote/release. */
  interrupt(ino: Ino, action: LeaseInterruptAction): void;
  snapshot(): LeaseSnapshot;
  /** The leases the server counts as this mount's (held, release call not yet sent): what a Reclaim claims after a proxyfsd restart. */
  claims(): { ino: Ino; mode: LeaseMode }[];
  /** Demotes every Exclusive lease (flushing first); resolves with how many. */
  demoteAll(): Promise<number>;
  /** Releases every lease (flushing first); resolves with how many. */
  releaseAll(): Promise<number>;
  /**
   * The mount is gone (evicted): forgets every lease without telling the server. Waiting
   * acquisitions start over (under the next mount); held guards become stale (their epoch is
   * no longer current). Returns the inodes that had a lease.
   */
  reset(): Ino[];
  stats(): LeaseStats;
  /** Waits for server calls in progress; later acquisitions fail. Leases are not released (Unmount drops them). */
  close(): Promise<void>;
}
