/**
 * Revocation: the LeaseInterrupt being sent to one holder. An interrupt waits until the
 * holder's grant is MinLeaseDuration old, is then sent and re-sent every LeaseInterruptInterval,
 * LeaseInterruptLimit times; one interval after the last send without an answer, onUnanswered
 * runs (the manager evicts the mount). The manager clears an interrupt when the holder answers
 * or when nobody needs it any more.
 */
import type { Clock } from '../../common/clock/index.js';
import type { Ino, LeaseInterruptAction } from '../../common/protocol/index.js';
import type { Cancel, Scheduler } from './scheduler.js';

export type Mode = 'shared' | 'exclusive';

export interface Interrupt {
  action: LeaseInterruptAction;
  sent: number;
  /** conflict: a waiter needs it (withdrawn when none does); limit: MaxLeases (kept until answered). */
  cause: 'conflict' | 'limit';
  cancel: Cancel;
}

export interface Holder {
  readonly mountId: string;
  readonly ino: Ino;
  mode: Mode;
  grantedMs: number;
  interrupt?: Interrupt;
}

export interface InterruptOptions {
  clock: Clock;
  scheduler: Scheduler;
  minLeaseDurationMs: number;
  intervalMs: number;
  limit: number;
  /** Whether the holder still holds (a stale timer does nothing). */
  isCurrent(h: Holder): boolean;
  send(h: Holder, action: LeaseInterruptAction): void;
  onUnanswered(h: Holder): void;
}

export interface Interrupts {
  /** Starts interrupting the holder, or turns its pending demote into a release. */
  ensure(h: Holder, action: LeaseInterruptAction, cause: Interrupt['cause']): void;
  clear(h: Holder): void;
  /** Holders being asked to release (they count as leaving for MaxLeases). */
  readonly releasing: number;
  readonly sent: number;
}

export function createInterrupts(o: InterruptOptions): Interrupts {
  let releasing = 0;
  let sent = 0;

  function fire(h: Holder): void {
    const it = h.interrupt;
    if (!it || !o.isCurrent(h)) return;
    if (it.sent >= o.limit) {
      o.onUnanswered(h);
      return;
    }
    it.sent++;
    sent++;
    it.cancel = o.scheduler.after(o.intervalMs, () => fire(h));
    try {
      o.send(h, it.action);
    } catch {
      // Best effort: an unsent interrupt counts as sent; an agent that never answers is evicted.
    }
  }

  return {
    ensure(h, action, cause) {
      const it = h.interrupt;
      if (it) {
        if (action === 'release' && it.action === 'demote') {
          it.action = 'release';
          releasing++;
        }
        return;
      }
      h.interrupt = { action, sent: 0, cause, cancel: () => {} };
      if (action === 'release') releasing++;
      const waitMs = h.grantedMs + o.minLeaseDurationMs - o.clock.nowMs();
      if (waitMs > 0) h.interrupt.cancel = o.scheduler.after(waitMs, () => fire(h));
      else fire(h);
    },
    clear(h) {
      if (!h.interrupt) return;
      h.interrupt.cancel();
      if (h.interrupt.action === 'release') releasing--;
      h.interrupt = undefined;
    },
    get releasing() { return releasing; },
    get sent() { return sent; },
  };
}
