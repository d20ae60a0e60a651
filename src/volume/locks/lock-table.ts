/**
 * The lock table of one volume (docs/LEASES.md §6), in memory: POSIX byte-range locks
 * (ranges.ts) and flock locks per inode, and the requests waiting for them.
 *
 * - A request is granted when no lock of another owner conflicts with it; after every change
 *   that frees something, the inode's waiters are retried in arrival order (FIFO), so of two
 *   waiters that conflict with each other the earlier one wins.
 * - A waiting request is answered when granted, or after maxWaitMs with granted: false (the
 *   agent asks again), or rejected when its mount goes away.
 * - A POSIX request that would wait on an owner that (through other waiting owners, on any
 *   inode of the volume) waits for the requester fails with EDEADLK.
 * - flock: one lock per owner per inode; changing its type first drops the old lock, as Linux.
 * Owners are keyed by mount and the agent's owner string, so two mounts never share one.
 */
import { FsError } from '../../common/errors/index.js';
import { LOCK_WAIT_CAP_MS, type GetLockParams, type Ino, type LockConflict, type LockParams, type LockResult } from '../../common/protocol/index.js';
import type { Cancel, Scheduler } from '../leases/index.js';
import { applyRange, rangeConflicts, type HeldType, type RangeLock } from './ranges.js';

export type LockRequest = Omit<LockParams, 'mountId'>;
export type LockQuery = Omit<GetLockParams, 'mountId'>;

export interface LockTableOptions {
  scheduler: Scheduler;
  /** How long a blocking request is held before it is answered granted: false; default LOCK_WAIT_CAP_MS. */
  maxWaitMs?: number;
}

export interface LockStats {
  posixLocks: number;
  flockLocks: number;
  waiting: number;
  deadlocks: number;
  /** Blocking requests answered granted: false after maxWaitMs. */
  waitTimeouts: number;
}

export interface LockTable {
  /** Answers at once, or with a promise for a blocking request; throws EDEADLK. */
  lock(mountId: string, req: LockRequest): LockResult | Promise<LockResult>;
  /** The conflicting lock of another owner with the lowest start, if any (F_GETLK). */
  getLock(mountId: string, q: LockQuery): { conflict?: LockConflict };
  /** Drops every lock of the mount; its waiting requests fail with `reason`. Returns the locks dropped. */
  dropMount(mountId: string, reason: Error): number;
  /** The owner's POSIX locks on an inode, by start (end -1 = to EOF). */
  posixLocksOf(mountId: string, owner: string, ino: Ino): { type: HeldType; start: number; end: number }[];
  held(mountId: string): { posix: number; flock: number };
  stats(): LockStats;
  /** Cancels every wait timer; waiting requests are left unanswered. */
  close(): void;
}

interface Waiter {
  readonly ownerKey: string;
  readonly mountId: string;
  readonly ino: Ino;
  readonly kind: 'posix' | 'flock';
  readonly type: HeldType;
  readonly start: number;
  readonly end: number;
  readonly pid: number;
  resolve(r: LockResult): void;
  reject(err: Error): void;
  cancel: Cancel;
}

interface InodeLocks {
  posix: RangeLock[];
  readonly flock: Map<string, RangeLock>;
  waiters: Waiter[];
}

export function ownerKey(mountId: string, owner: string): string {
  return `${mountId}/${owner}`;
}

const wireEnd = (end: number): number => (end === Infinity ? -1 : end);

export function createLockTable(opts: LockTableOptions): LockTable {
  const maxWaitMs = opts.maxWaitMs ?? LOCK_WAIT_CAP_MS;
  const inodes = new Map<Ino, InodeLocks>();
  const posixWaiters = new Map<string, Set<Waiter>>();
  const counters = { deadlocks: 0, waitTimeouts: 0 };

  function inodeLocks(ino: Ino): InodeLocks {
    let il = inodes.get(ino);
    if (!il) inodes.set(ino, (il = { posix: [], flock: new Map(), waiters: [] }));
    return il;
  }

  function forgetIfEmpty(ino: Ino, il: InodeLocks): void {
    if (il.posix.length === 0 && il.flock.size === 0 && il.waiters.length === 0) inodes.delete(ino);
  }

  function flockConflicts(il: InodeLocks, key: string, type: HeldType): RangeLock[] {
    return [...il.flock.values()].filter((l) => l.ownerKey !== key && (type === 'write' || l.type === 'write'));
  }

  function blockers(il: InodeLocks, w: Pick<Waiter, 'ownerKey' | 'kind' | 'type' | 'start' | 'end'>): RangeLock[] {
    return w.kind === 'posix' ? rangeConflicts(il.posix, w.ownerKey, w.type, w.start, w.end) : flockConflicts(il, w.ownerKey, w.type);
  }

  function take(il: InodeLocks, w: Omit<Waiter, 'resolve' | 'reject' | 'cancel' | 'ino'>): void {
    if (w.kind === 'posix') il.posix = applyRange(il.posix, w.ownerKey, w.mountId, w.type, w.start, w.end, w.pid);
    else il.flock.set(w.ownerKey, { ownerKey: w.ownerKey, mountId: w.mountId, type: w.type, start: 0, end: Infinity, pid: w.pid });
  }

  function unqueue(il: InodeLocks, w: Waiter): void {
    w.cancel();
    il.waiters = il.waiters.filter((x) => x !== w);
    const s = posixWaiters.get(w.ownerKey);
    s?.delete(w);
    if (s?.size === 0) posixWaiters.delete(w.ownerKey);
  }

  /** Grants waiters that no longer conflict, earliest first, until nothing changes. */
  function wake(ino: Ino, il: InodeLocks): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const w of il.waiters) {
        if (blockers(il, w).length > 0) continue;
        unqueue(il, w);
        take(il, w);
        w.resolve({ granted: true });
        changed = true;
        break;
      }
    }
    forgetIfEmpty(ino, il);
  }

  /** True when an owner blocking `requester` waits, directly or through other waiting owners, for it. */
  function wouldDeadlock(requester: string, first: RangeLock[]): boolean {
    const seen = new Set<string>();
    const stack = first.map((l) => l.ownerKey);
    while (stack.length > 0) {
      const owner = stack.pop()!;
      if (owner === requester) return true;
      if (seen.has(owner)) continue;
      seen.add(owner);
      for (const w of posixWaiters.get(owner) ?? []) {
        const il = inodes.get(w.ino);
        if (il) for (const l of blockers(il, w)) stack.push(l.ownerKey);
      }
    }
    return false;
  }

  function enqueue(il: InodeLocks, w: Omit<Waiter, 'resolve' | 'reject' | 'cancel'>): Promise<LockResult> {
    return new Promise<LockResult>((resolve, reject) => {
      const waiter: Waiter = { ...w, resolve, reject, cancel: () => {} };
      waiter.cancel = opts.scheduler.after(maxWaitMs, () => {
        counters.waitTimeouts++;
        unqueue(il, waiter);
        forgetIfEmpty(w.ino, il);
        resolve({ granted: false, retryAfterMs: 0 });
      });
      il.waiters.push(waiter);
      if (w.kind === 'posix') {
        let s = posixWaiters.get(w.ownerKey);
        if (!s) posixWaiters.set(w.ownerKey, (s = new Set()));
        s.add(waiter);
      }
    });
  }

  return {
    lock(mountId, req) {
      const key = ownerKey(mountId, req.owner);
      const il = inodeLocks(req.ino);
      const end = req.end === -1 ? Infinity : req.end;
      if (req.type === 'unlock') {
        if (req.kind === 'posix') il.posix = applyRange(il.posix, key, mountId, 'unlock', req.start, end, req.pid);
        else il.flock.delete(key);
        wake(req.ino, il);
        return { granted: true };
      }
      const w = { ownerKey: key, mountId, ino: req.ino, kind: req.kind, type: req.type, start: req.start, end, pid: req.pid };
      let freed = false;
      if (req.kind === 'flock') {
        const mine = il.flock.get(key);
        if (mine?.type === req.type) return { granted: true };
        // Not atomic, as on Linux: a conversion first gives up the old lock.
        freed = il.flock.delete(key);
      }
      const conflicts = blockers(il, w);
      if (conflicts.length === 0) {
        take(il, w);
        wake(req.ino, il);
        return { granted: true };
      }
      if (req.wait && req.kind === 'posix' && wouldDeadlock(key, conflicts)) {
        counters.deadlocks++;
        forgetIfEmpty(req.ino, il);
        throw new FsError('EDEADLK', `lock on inode ${req.ino} would deadlock: its holders wait for this owner`);
      }
      const answer: LockResult | Promise<LockResult> = req.wait ? enqueue(il, w) : { granted: false, retryAfterMs: 0 };
      if (freed) wake(req.ino, il);
      else forgetIfEmpty(req.ino, il);
      return answer;
    },
    getLock(mountId, q) {
      const il = inodes.get(q.ino);
      const end = q.end === -1 ? Infinity : q.end;
      const found = il ? rangeConflicts(il.posix, ownerKey(mountId, q.owner), q.type, q.start, end) : [];
      if (found.length === 0) return {};
      const first = found.reduce((a, b) => (b.start < a.start ? b : a));
      return { conflict: { type: first.type, start: first.start, end: wireEnd(first.end), pid: first.pid } };
    },
    dropMount(mountId, reason) {
      let dropped = 0;
      for (const [ino, il] of inodes) {
        const before = il.posix.length + il.flock.size;
        il.posix = il.posix.filter((l) => l.mountId !== mountId);
        for (const [k, l] of il.flock) if (l.mountId === mountId) il.flock.delete(k);
        dropped += before - il.posix.length - il.flock.size;
        for (const w of il.waiters.filter((x) => x.mountId === mountId)) {
          unqueue(il, w);
          w.reject(reason);
        }
        wake(ino, il);
      }
      return dropped;
    },
    posixLocksOf(mountId, owner, ino) {
      const key = ownerKey(mountId, owner);
      return (inodes.get(ino)?.posix ?? []).filter((l) => l.ownerKey === key)
        .sort((a, b) => a.start - b.start)
        .map((l) => ({ type: l.type, start: l.start, end: wireEnd(l.end) }));
    },
    held(mountId) {
      let posix = 0;
      let flock = 0;
      for (const il of inodes.values()) {
        for (const l of il.posix) if (l.mountId === mountId) posix++;
        for (const l of il.flock.values()) if (l.mountId === mountId) flock++;
      }
      return { posix, flock };
    },
    stats() {
      let posixLocks = 0;
      let flockLocks = 0;
      let waiting = 0;
      for (const il of inodes.values()) {
        posixLocks += il.posix.length;
        flockLocks += il.flock.size;
        waiting += il.waiters.length;
      }
      return { posixLocks, flockLocks, waiting, ...counters };
    },
    close() {
      for (const il of inodes.values()) for (const w of il.waiters) w.cancel();
      inodes.clear();
      posixWaiters.clear();
    },
  };
}
