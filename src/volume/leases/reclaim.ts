/**
 * The reclaim period of one volume after proxyfsd starts (docs/LEASES.md §8).
 *
 * Leases and locks live in memory, so a restarted server has granted nothing while its agents
 * still cache, buffer and hold locks under what the old instance granted. For ReclaimPeriod
 * after the start, the mounts recorded in the volume's database (not evicted) claim what they
 * held with `Reclaim`, and every other acquisition (Lease shared/exclusive/promote, Lock,
 * GetLock) waits. The period ends early once every such mount has finished its claim (or was
 * dropped, evicted or unmounted).
 *
 * A mount that has not finished when the period ends is "late". Its claims are still granted
 * where that is safe: the inode has seen no lease or lock granted to anyone since the period
 * ended, and nothing conflicts. Otherwise the mount is evicted (its buffered data may be older
 * than what another agent wrote meanwhile; the fence refuses it). The gate remembers the
 * inodes granted after the end only while late mounts remain, so its memory is bounded by
 * them and by MountGracePeriod, after which they are dropped.
 */
import type { Ino } from '../../common/protocol/index.js';
import type { Scheduler } from './scheduler.js';

export interface ReclaimGateOptions {
  /** Mounts that may hold leases or locks from before the restart. */
  expected: Iterable<string>;
  periodMs: number;
  scheduler: Scheduler;
  /** The period ended; `late` lists the mounts that had not finished their claim. */
  onEnd?(late: string[]): void;
}

export interface ReclaimGate {
  /** True until the period ends. */
  readonly reclaiming: boolean;
  /** While reclaiming: a promise that resolves when the period ends; afterwards undefined. */
  ended(): Promise<void> | undefined;
  /** An acquisition of `ino` is about to be granted (records it while late mounts remain). */
  acquiring(ino: Ino): void;
  /**
   * May `mountId` claim `ino` now? During the period: when the mount is one of `expected`.
   * Afterwards: only a late mount, and only an inode nobody was granted anything on since.
   */
  mayClaim(mountId: string, ino: Ino): boolean;
  /** The mount finished its claim (Reclaim done). */
  finished(mountId: string): void;
  /** The mount finished its claim in time (a Reclaim again is a resend of that claim, or a retry). */
  claimed(mountId: string): boolean;
  /** The mount is gone (dropped, evicted, unmounted): nothing waits for it. */
  forget(mountId: string): void;
  stats(): { reclaiming: boolean; waitingFor: number; late: number };
  close(): void;
}

export function createReclaimGate(opts: ReclaimGateOptions): ReclaimGate {
  const expected = new Set(opts.expected);
  const pending = new Set(expected);
  const late = new Set<string>();
  const grantedSinceEnd = new Set<Ino>();
  /** Mounts that finished their claim within the period (bounded by expected; gone with forget). */
  const inTime = new Set<string>();
  let reclaiming = pending.size > 0 && opts.periodMs > 0;
  let release: (() => void) | undefined;
  const endedPromise = reclaiming ? new Promise<void>((resolve) => { release = resolve; }) : undefined;
  const cancel = reclaiming ? opts.scheduler.after(opts.periodMs, () => end()) : undefined;
  if (!reclaiming) {
    pending.clear();
    expected.clear();
  }

  function end(): void {
    if (!reclaiming) return;
    reclaiming = false;
    cancel?.();
    for (const m of pending) late.add(m);
    pending.clear();
    expected.clear();
    release?.();
    opts.onEnd?.([...late]);
  }

  function resolved(mountId: string): void {
    if (pending.delete(mountId) && pending.size === 0) end();
    if (late.delete(mountId) && late.size === 0) grantedSinceEnd.clear();
  }

  return {
    get reclaiming() { return reclaiming; },
    ended: () => (reclaiming ? endedPromise : undefined),
    acquiring(ino) {
      if (!reclaiming && late.size > 0) grantedSinceEnd.add(ino);
    },
    mayClaim(mountId, ino) {
      return reclaiming ? expected.has(mountId) : late.has(mountId) && !grantedSinceEnd.has(ino);
    },
    finished(mountId) {
      if (pending.has(mountId)) inTime.add(mountId);
      resolved(mountId);
    },
    claimed: (mountId) => inTime.has(mountId),
    forget(mountId) {
      inTime.delete(mountId);
      resolved(mountId);
    },
    stats: () => ({ reclaiming, waitingFor: pending.size, late: late.size }),
    close() {
      cancel?.();
      expected.clear();
      pending.clear();
      late.clear();
      grantedSinceEnd.clear();
      inTime.clear();
    },
  };
}
