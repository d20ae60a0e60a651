/**
 * Directory leases of one volume (docs/LEASES.md §5), in memory.
 *
 * A directory lease is Shared only: while a mount holds one on directory D, it may keep D's
 * attributes and the names it looked up in D (and let its kernel keep them). Nothing waits to
 * get one: it is granted at once with a Lookup or GetAttr, or not at all (a hot directory, the
 * memory bound, an answer still owed). A change in D by any mount is applied at once and then
 * *breaks* the other mounts' leases on D: each is dropped and its holder told
 * (LeaseInterrupt release, re-sent every LeaseInterruptInterval); the change's reply waits until
 * every holder has answered (it has told its kernel) or was evicted, which a holder that leaves
 * LeaseInterruptLimit interrupts unanswered is. The changer keeps its own lease: its kernel
 * sees its own change. A directory broken HOT_BREAKS times within HOT_WINDOW_MS is not granted
 * for COOL_MS: a directory several mounts change at once costs what it did without leases.
 *
 * Invariants: a (mount, directory) pair is either held, or owes an answer (pending), or
 * neither; every held pair is in `byMount`; `count` is the number of held pairs.
 */
import type { Ino } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { LeaseHooks } from './lease-manager.js';
import type { Cancel, Scheduler } from './scheduler.js';

export interface DirLeaseOptions {
  clock: Clock;
  scheduler: Scheduler;
  intervalMs: number;
  limit: number;
  hooks: LeaseHooks;
  /** Held directory leases of the volume, all mounts together, before grants stop; default MAX_DIR_LEASES. */
  maxLeases?: number;
}

export interface DirLeaseStats {
  dirLeases: number;
  /** Holders told to drop a directory lease because another mount changed the directory. */
  breaks: number;
  /** Directories not granted now because they were broken too often. */
  cooling: number;
}

export interface DirLeases {
  /** Gives `mountId` a lease on directory `ino` when it can be at once; true when the mount holds one. */
  grant(mountId: string, ino: Ino): boolean;
  holds(mountId: string, ino: Ino): boolean;
  /**
   * A change by `byMount` in these directories: every other mount's lease on them goes. Undefined
   * when no other mount held one or owes an answer; else a promise that resolves when all have
   * answered (released) or were evicted.
   */
  break(byMount: string, inos: Ino[]): Promise<void> | undefined;
  /** The mount released its lease on `ino` (its answer to a break, or of its own accord). */
  released(mountId: string, ino: Ino): void;
  /** The mount is gone (unmounted, dropped, evicted): its leases go and nobody waits for it any more. */
  dropMount(mountId: string): void;
  stats(): DirLeaseStats;
  close(): void;
}

export const MAX_DIR_LEASES = 200_000;
export const HOT_BREAKS = 4;
export const HOT_WINDOW_MS = 1000;
export const COOL_MS = 2000;
/** Directories remembered for the hot test, beyond which those not broken lately are forgotten. */
const HOT_TRACKED = 10_000;

interface Pending {
  sent: number;
  cancel: Cancel;
  done: (() => void)[];
}

export function createDirLeases(opts: DirLeaseOptions): DirLeases {
  const { clock, scheduler, hooks } = opts;
  const maxLeases = opts.maxLeases ?? MAX_DIR_LEASES;
  const holders = new Map<Ino, Set<string>>();
  const byMount = new Map<string, Set<Ino>>();
  /** Answers owed: per directory, per mount. */
  const pending = new Map<Ino, Map<string, Pending>>();
  /** Per directory: recent break times, and until when it is not granted. */
  const hot = new Map<Ino, { times: number[]; coolUntil: number }>();
  let count = 0;
  let breaks = 0;
  let closed = false;

  function drop(mountId: string, ino: Ino): void {
    const hs = holders.get(ino);
    if (!hs?.delete(mountId)) return;
    count--;
    if (hs.size === 0) holders.delete(ino);
    const mine = byMount.get(mountId);
    mine?.delete(ino);
    if (mine?.size === 0) byMount.delete(mountId);
  }

  function answered(mountId: string, ino: Ino): void {
    const owed = pending.get(ino);
    const p = owed?.get(mountId);
    if (!p) return;
    p.cancel();
    owed!.delete(mountId);
    if (owed!.size === 0) pending.delete(ino);
    for (const d of p.done) d();
  }

  function cooling(ino: Ino): boolean {
    const h = hot.get(ino);
    return h !== undefined && h.coolUntil > clock.nowMs();
  }

  function noteBreak(ino: Ino): void {
    const now = clock.nowMs();
    let h = hot.get(ino);
    if (!h) {
      if (hot.size >= HOT_TRACKED) {
        for (const [k, v] of hot) if (v.coolUntil <= now && (v.times.at(-1) ?? 0) <= now - HOT_WINDOW_MS) hot.delete(k);
      }
      hot.set(ino, (h = { times: [], coolUntil: 0 }));
    }
    h.times = h.times.filter((t) => t > now - HOT_WINDOW_MS);
    h.times.push(now);
    if (h.times.length >= HOT_BREAKS) {
      h.coolUntil = now + COOL_MS;
      h.times = [];
    }
  }

  /** Sends the interrupt (again); after `limit` sends and one more interval, the mount is evicted. */
  function fire(mountId: string, ino: Ino, p: Pending): void {
    if (closed || pending.get(ino)?.get(mountId) !== p) return;
    if (p.sent >= opts.limit) {
      hooks.evict(mountId, ino); // drops the mount here too (dropMount), which answers for it
      answered(mountId, ino);
      return;
    }
    p.sent++;
    p.cancel = scheduler.after(opts.intervalMs, () => fire(mountId, ino, p));
    try {
      hooks.interrupt(mountId, ino, 'release');
    } catch {
      // Best effort, as for files: an unsent interrupt counts as sent.
    }
  }

  function owe(mountId: string, ino: Ino): Pending {
    let owed = pending.get(ino);
    if (!owed) pending.set(ino, (owed = new Map()));
    let p = owed.get(mountId);
    if (!p) {
      p = { sent: 0, cancel: () => {}, done: [] };
      owed.set(mountId, p);
      fire(mountId, ino, p);
    }
    return p;
  }

  function dropMount(mountId: string): void {
    for (const ino of [...byMount.get(mountId) ?? []]) drop(mountId, ino);
    for (const [ino, owed] of [...pending]) if (owed.has(mountId)) answered(mountId, ino);
  }

  return {
    grant(mountId, ino) {
      if (closed) return false;
      if (holders.get(ino)?.has(mountId)) return true;
      if (count >= maxLeases || cooling(ino) || pending.get(ino)?.has(mountId)) return false;
      let hs = holders.get(ino);
      if (!hs) holders.set(ino, (hs = new Set()));
      hs.add(mountId);
      let mine = byMount.get(mountId);
      if (!mine) byMount.set(mountId, (mine = new Set()));
      mine.add(ino);
      count++;
      return true;
    },
    holds: (mountId, ino) => holders.get(ino)?.has(mountId) ?? false,
    break(byMount, inos) {
      if (closed) return undefined;
      const waits: Promise<void>[] = [];
      for (const ino of new Set(inos)) {
        const others = [...holders.get(ino) ?? []].filter((m) => m !== byMount);
        if (others.length > 0) {
          breaks += others.length;
          noteBreak(ino);
        }
        for (const m of others) {
          drop(m, ino);
          owe(m, ino);
        }
        // An answer still owed from an earlier break: that mount's kernel may still show the old names.
        for (const [m, p] of pending.get(ino) ?? []) {
          if (m !== byMount) waits.push(new Promise<void>((resolve) => { p.done.push(resolve); }));
        }
      }
      return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined);
    },
    released(mountId, ino) {
      drop(mountId, ino);
      answered(mountId, ino);
    },
    dropMount,
    stats() {
      const now = clock.nowMs();
      let cool = 0;
      for (const h of hot.values()) if (h.coolUntil > now) cool++;
      return { dirLeases: count, breaks, cooling: cool };
    },
    close() {
      closed = true;
      for (const owed of pending.values()) for (const p of owed.values()) {
        p.cancel();
        for (const d of p.done) d();
      }
      pending.clear();
      holders.clear();
      byMount.clear();
      count = 0;
    },
  };
}
