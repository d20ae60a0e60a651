/**
 * Timers as the lease manager and the lock table see them: `after(ms, fn)` returns a cancel
 * function. timerScheduler() uses setTimeout (unref'd: a pending interrupt never keeps the
 * process alive); manualScheduler() runs due timers in order when a test moves its clock, so
 * lease and lock tests are fast and deterministic.
 */
import type { Clock } from '../../common/clock/index.js';

export type Cancel = () => void;

export interface Scheduler {
  /** Runs fn once, ms from now (0: on a later turn, never synchronously). */
  after(ms: number, fn: () => void): Cancel;
}

export function timerScheduler(): Scheduler {
  return {
    after(ms, fn) {
      const t = setTimeout(fn, Math.max(0, ms));
      t.unref();
      return () => clearTimeout(t);
    },
  };
}

export interface ManualScheduler extends Scheduler {
  /** Moves the clock forward by ms, running every timer that falls due, in due order, at its due time. */
  advanceMs(ms: number): void;
  /** Timers not yet run nor cancelled. */
  pending(): number;
}

/** A scheduler over a clock moved only by advanceMs (the clock must be manualClock()'s). */
export function manualScheduler(clock: Clock & { advanceMs(ms: number): void }): ManualScheduler {
  interface Timer { dueNs: bigint; seq: number; fn: () => void }
  let timers: Timer[] = [];
  let seq = 0;
  const toNs = (ms: number): bigint => BigInt(Math.round(Math.max(0, ms) * 1e6));
  return {
    after(ms, fn) {
      const t: Timer = { dueNs: clock.nowNs() + toNs(ms), seq: seq++, fn };
      timers.push(t);
      return () => { timers = timers.filter((x) => x !== t); };
    },
    advanceMs(ms) {
      const target = clock.nowNs() + toNs(ms);
      for (;;) {
        let next: Timer | undefined;
        for (const t of timers) if (t.dueNs <= target && (!next || t.dueNs < next.dueNs || (t.dueNs === next.dueNs && t.seq < next.seq))) next = t;
        if (!next) break;
        timers = timers.filter((x) => x !== next);
        const now = clock.nowNs();
        if (next.dueNs > now) clock.advanceMs(Number(next.dueNs - now) / 1e6);
        next.fn();
      }
      const now = clock.nowNs();
      if (target > now) clock.advanceMs(Number(target - now) / 1e6);
    },
    pending: () => timers.length,
  };
}
