/**
 * The lease manager of one volume (docs/LEASES.md §1-4), in memory.
 *
 * Per inode: the holders (by mount: shared or exclusive, grant time, the interrupt being sent
 * to it, interrupts.ts) and a FIFO of waiting requests. The head waiter is granted as soon as
 * no other mount's lease conflicts with it; until then its conflicting holders are interrupted
 * (demote for a shared request, release otherwise). A holder that leaves its interrupt
 * unanswered is evicted: the manager drops every lease and waiter of its mount and calls
 * hooks.evict, which fences the mount.
 *
 * Invariants: at most one exclusive holder per inode, and then no other holder; a promotion
 * waits at the head of its queue and at most one does per inode; every holder is in `lru`
 * (least recently used first); `byMount` names every inode a mount holds or waits for.
 */
import { PfsError } from '../../common/errors/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { Ino, LeaseGrant, LeaseInterruptAction, LeaseRequest } from '../../common/protocol/index.js';
import { createInterrupts, type Holder, type Mode } from './interrupts.js';
import type { Scheduler } from './scheduler.js';

export interface LeaseSettings {
  minLeaseDurationMs: number;
  interruptIntervalMs: number;
  interruptLimit: number;
  /** Leases (mount, inode pairs) held before the least recently used idle ones are revoked. */
  maxLeases: number;
}

export interface LeaseHooks {
  /** Sends LeaseInterrupt {ino, action} to the mount's agent; false when it could not be sent (it counts all the same). */
  interrupt(mountId: string, ino: Ino, action: LeaseInterruptAction): boolean;
  /**
   * The mount left the interrupt for `ino` unanswered LeaseInterruptLimit times. Its leases and
   * waiters are already dropped here; the hook fences the mount and drops its locks and opens.
   */
  evict(mountId: string, ino: Ino): void;
}

export interface LeaseManagerOptions {
  clock: Clock;
  scheduler: Scheduler;
  settings: LeaseSettings;
  hooks: LeaseHooks;
}

export interface LeaseStats {
  leases: number;
  shared: number;
  exclusive: number;
  /** Requests waiting for a grant. */
  waiting: number;
  interruptsSent: number;
  evictions: number;
  denials: number;
  /** Release interrupts sent because the volume held more than MaxLeases. */
  limitRevocations: number;
}

export interface LeaseManager {
  /** Answers at once (a value, or PFS_ERR_LEASE_DENIED thrown) or with a promise that settles when granted. */
  request(mountId: string, ino: Ino, request: LeaseRequest): LeaseGrant | Promise<LeaseGrant>;
  /**
   * A lease the mount held before a restart (Reclaim, docs/LEASES.md §8): held as `mode` from
   * now on unless another mount's lease conflicts (then false, nothing changes).
   */
  claim(mountId: string, ino: Ino, mode: Mode): boolean;
  /** Grants `want` (or more: see grant) at once when nobody waits and no other mount's lease conflicts (nothing is interrupted); else false. */
  grantIfFree(mountId: string, ino: Ino, want: Mode): boolean;
  /** Drops every lease of the mount; its waiting requests fail with `reason`. Returns the leases dropped. */
  dropMount(mountId: string, reason: Error): number;
  held(mountId: string): { shared: Ino[]; exclusive: Ino[] };
  /** Does a mount other than `mountId` hold a lease (of either mode) on `ino`? */
  heldByOthers(mountId: string, ino: Ino): boolean;
  /** What `mountId` holds on `ino`. */
  modeOf(mountId: string, ino: Ino): Mode | undefined;
  /**
   * The inode was destroyed (numbers are never reused): its leases go, without interrupts, as
   * nobody can use them any more; left alone while requests for it wait (they are answered as usual).
   */
  forgetInode(ino: Ino): void;
  stats(): LeaseStats;
  /** Cancels every timer; waiting requests are left unanswered (their clients resend to the next server). */
  close(): void;
}

interface Waiter {
  readonly mountId: string;
  readonly want: Mode;
  readonly promote: boolean;
  readonly settle: { resolve(g: LeaseGrant): void; reject(err: Error): void }[];
}

interface InodeLeases {
  readonly ino: Ino;
  readonly holders: Map<string, Holder>;
  waiters: Waiter[];
}

export function createLeaseManager(opts: LeaseManagerOptions): LeaseManager {
  const { clock, scheduler, settings, hooks } = opts;
  const inodes = new Map<Ino, InodeLeases>();
  const lru = new Map<string, Holder>();
  const byMount = new Map<string, Set<Ino>>();
  let closed = false;
  const counters = { evictions: 0, denials: 0, limitRevocations: 0 };
  const interrupts = createInterrupts({
    clock,
    scheduler,
    minLeaseDurationMs: settings.minLeaseDurationMs,
    intervalMs: settings.interruptIntervalMs,
    limit: settings.interruptLimit,
    isCurrent: (h) => !closed && inodes.get(h.ino)?.holders.get(h.mountId) === h,
    send: (h, action) => hooks.interrupt(h.mountId, h.ino, action),
    onUnanswered: (h) => evict(h.mountId, h.ino),
  });

  const lruKey = (mountId: string, ino: Ino): string => `${mountId}\n${ino}`;

  function inodeState(ino: Ino): InodeLeases {
    let st = inodes.get(ino);
    if (!st) inodes.set(ino, (st = { ino, holders: new Map(), waiters: [] }));
    return st;
  }

  function track(mountId: string, ino: Ino): void {
    let s = byMount.get(mountId);
    if (!s) byMount.set(mountId, (s = new Set()));
    s.add(ino);
  }

  function untrackIfDone(st: InodeLeases, mountId: string): void {
    if (st.holders.has(mountId) || st.waiters.some((w) => w.mountId === mountId)) return;
    const s = byMount.get(mountId);
    s?.delete(st.ino);
    if (s?.size === 0) byMount.delete(mountId);
  }

  function forgetIfEmpty(st: InodeLeases): void {
    if (st.holders.size === 0 && st.waiters.length === 0) inodes.delete(st.ino);
  }

  function touch(h: Holder): void {
    const k = lruKey(h.mountId, h.ino);
    lru.delete(k);
    lru.set(k, h);
  }

  function conflicting(st: InodeLeases, mountId: string, want: Mode): Holder[] {
    const out: Holder[] = [];
    for (const h of st.holders.values()) if (h.mountId !== mountId && (want === 'exclusive' || h.mode === 'exclusive')) out.push(h);
    return out;
  }

  function evict(mountId: string, ino: Ino): void {
    counters.evictions++;
    dropMount(mountId, new PfsError('PFS_ERR_MOUNT_EVICTED', `mount ${mountId} was evicted: it left a lease interrupt for inode ${ino} unanswered`));
    hooks.evict(mountId, ino);
  }

  /** Makes `mountId` hold at least `want` (a shared grant becomes exclusive when nobody else holds or waits). */
  function grant(st: InodeLeases, mountId: string, want: Mode): Mode {
    let mode = want;
    if (mode === 'shared' && conflicting(st, mountId, 'exclusive').length === 0 && !st.waiters.some((w) => w.mountId !== mountId)) mode = 'exclusive';
    let h = st.holders.get(mountId);
    if (h) {
      if (mode === 'exclusive' && h.mode === 'shared') {
        h.mode = 'exclusive';
        h.grantedMs = clock.nowMs();
      }
    } else {
      h = { mountId, ino: st.ino, mode, grantedMs: clock.nowMs() };
      st.holders.set(mountId, h);
      track(mountId, st.ino);
    }
    touch(h);
    enforceLimit();
    return h.mode;
  }

  /** Grants waiters from the head of the queue while they fit; interrupts what blocks the head. */
  function pump(st: InodeLeases): void {
    const needed = new Map<Holder, LeaseInterruptAction>();
    while (st.waiters.length > 0) {
      const w = st.waiters[0]!;
      const blockers = conflicting(st, w.mountId, w.want);
      if (blockers.length === 0) {
        st.waiters.shift();
        const mode = grant(st, w.mountId, w.want);
        for (const s of w.settle) s.resolve(mode);
        continue;
      }
      for (const h of blockers) needed.set(h, w.want === 'shared' ? 'demote' : 'release');
      break;
    }
    for (const h of st.holders.values()) {
      const action = needed.get(h);
      if (action) interrupts.ensure(h, action, 'conflict');
      else if (h.interrupt?.cause === 'conflict') interrupts.clear(h);
    }
    forgetIfEmpty(st);
  }

  /** Over MaxLeases: asks the least recently used idle holders to release. */
  function enforceLimit(): void {
    let excess = lru.size - interrupts.releasing - settings.maxLeases;
    if (excess <= 0) return;
    for (const h of lru.values()) {
      if (excess <= 0) break;
      if (h.interrupt || inodes.get(h.ino)?.waiters.some((w) => w.mountId === h.mountId)) continue;
      counters.limitRevocations++;
      excess--;
      interrupts.ensure(h, 'release', 'limit');
    }
  }

  function removeHolder(st: InodeLeases, h: Holder): void {
    interrupts.clear(h);
    st.holders.delete(h.mountId);
    lru.delete(lruKey(h.mountId, h.ino));
    untrackIfDone(st, h.mountId);
  }

  /** Queues a request that cannot be granted at once (a promotion at the head), or denies a promotion. */
  function acquire(mountId: string, ino: Ino, want: Mode, promote: boolean): Promise<LeaseGrant> {
    const st = inodeState(ino);
    const h = st.holders.get(mountId);
    if (promote) {
      const why = h?.interrupt?.action === 'release' ? 'this mount is being asked to release it'
        : st.waiters.some((w) => w.promote && w.mountId !== mountId) ? 'another mount\'s promotion of it is waiting' : undefined;
      if (why) {
        counters.denials++;
        throw new PfsError('PFS_ERR_LEASE_DENIED', `promotion of inode ${ino} denied: ${why}; release the lease and ask for exclusive`);
      }
    }
    return new Promise<LeaseGrant>((resolve, reject) => {
      const same = st.waiters.find((w) => w.mountId === mountId && (w.want === 'exclusive' || want === 'shared'));
      if (same) {
        same.settle.push({ resolve, reject });
        return;
      }
      const w: Waiter = { mountId, want, promote, settle: [{ resolve, reject }] };
      if (promote) st.waiters.unshift(w);
      else st.waiters.push(w);
      track(mountId, ino);
      pump(st);
    });
  }

  /** Grants at once when nobody waits and no other mount's lease conflicts; else undefined. */
  function immediate(mountId: string, ino: Ino, want: Mode): LeaseGrant | undefined {
    const st = inodes.get(ino);
    if (st && (st.waiters.length > 0 || conflicting(st, mountId, want).length > 0)) return undefined;
    const h = st?.holders.get(mountId);
    if (want === 'exclusive' && h?.mode === 'shared' && h.interrupt?.action === 'release') return undefined; // denied in acquire
    return grant(st ?? inodeState(ino), mountId, want);
  }

  function dropMount(mountId: string, reason: Error): number {
    const inos = byMount.get(mountId);
    byMount.delete(mountId);
    let dropped = 0;
    for (const ino of inos ?? []) {
      const st = inodes.get(ino);
      if (!st) continue;
      const h = st.holders.get(mountId);
      if (h) {
        removeHolder(st, h);
        dropped++;
      }
      const mine = st.waiters.filter((w) => w.mountId === mountId);
      st.waiters = st.waiters.filter((w) => w.mountId !== mountId);
      for (const w of mine) for (const s of w.settle) s.reject(reason);
      pump(st);
    }
    return dropped;
  }

  return {
    request(mountId, ino, request) {
      if (closed) throw new PfsError('PFS_ERR_RPC_CLOSED', 'the lease manager is closed');
      const st = inodes.get(ino);
      const h = st?.holders.get(mountId);
      switch (request) {
        case 'release':
          if (st && h) {
            removeHolder(st, h);
            pump(st);
          }
          return 'none';
        case 'demote':
          if (!st || !h) return 'none';
          h.mode = 'shared';
          if (h.interrupt?.action === 'demote') interrupts.clear(h);
          pump(st);
          return 'shared';
        case 'shared':
        case 'promote':
        case 'exclusive': {
          // exclusive from a Shared holder is a promotion; promote without a lease is exclusive.
          const want: Mode = request === 'shared' ? 'shared' : 'exclusive';
          if (h && (h.mode === 'exclusive' || want === 'shared')) {
            touch(h);
            return h.mode;
          }
          return immediate(mountId, ino, want) ?? acquire(mountId, ino, want, h !== undefined);
        }
      }
    },
    claim(mountId, ino, mode) {
      if (closed) throw new PfsError('PFS_ERR_RPC_CLOSED', 'the lease manager is closed');
      const st = inodeState(ino);
      if (conflicting(st, mountId, mode).length > 0) {
        forgetIfEmpty(st);
        return false;
      }
      let h = st.holders.get(mountId);
      if (!h) {
        h = { mountId, ino, mode, grantedMs: clock.nowMs() };
        st.holders.set(mountId, h);
        track(mountId, ino);
      } else if (mode === 'exclusive') {
        h.mode = 'exclusive';
      }
      touch(h);
      enforceLimit();
      return true;
    },
    grantIfFree(mountId, ino, want) {
      if (closed) return false;
      // Shared may be granted as Exclusive (nobody else holds or waits): granted all the same.
      const granted = immediate(mountId, ino, want);
      return granted === want || granted === 'exclusive';
    },
    dropMount,
    heldByOthers(mountId, ino) {
      for (const h of inodes.get(ino)?.holders.values() ?? []) if (h.mountId !== mountId) return true;
      return false;
    },
    modeOf(mountId, ino) {
      return inodes.get(ino)?.holders.get(mountId)?.mode;
    },
    forgetInode(ino) {
      const st = inodes.get(ino);
      if (!st || st.waiters.length > 0) return;
      for (const h of [...st.holders.values()]) removeHolder(st, h);
      forgetIfEmpty(st);
    },
    held(mountId) {
      const out = { shared: [] as Ino[], exclusive: [] as Ino[] };
      for (const ino of byMount.get(mountId) ?? []) {
        const h = inodes.get(ino)?.holders.get(mountId);
        if (h) out[h.mode].push(ino);
      }
      out.shared.sort((a, b) => a - b);
      out.exclusive.sort((a, b) => a - b);
      return out;
    },
    stats() {
      let shared = 0;
      let waiting = 0;
      for (const h of lru.values()) if (h.mode === 'shared') shared++;
      for (const st of inodes.values()) for (const w of st.waiters) waiting += w.settle.length;
      return { leases: lru.size, shared, exclusive: lru.size - shared, waiting, interruptsSent: interrupts.sent, ...counters };
    },
    close() {
      closed = true;
      for (const h of lru.values()) h.interrupt?.cancel();
      inodes.clear();
      lru.clear();
      byMount.clear();
    },
  };
}
