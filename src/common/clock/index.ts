/**
 * Time as components see it. Lease, writeback, cache and GC code take a Clock so tests can
 * drive time. systemClock() gives wall-clock time with nanosecond resolution (a monotonic
 * high-resolution counter anchored to Date.now() once at creation).
 */
import type { Timespec } from '../protocol/index.js';

export interface Clock {
  nowNs(): bigint;
  now(): Timespec;
  nowMs(): number;
}

export function systemClock(): Clock {
  const base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return clockFrom(() => base + process.hrtime.bigint());
}

/** A clock a test moves by hand. */
export function manualClock(startNs = 1_700_000_000_000_000_000n): Clock & { advanceMs(ms: number): void } {
  let t = startNs;
  return { ...clockFrom(() => t), advanceMs(ms: number) { t += BigInt(Math.round(ms * 1e6)); } };
}

function clockFrom(nowNs: () => bigint): Clock {
  return {
    nowNs,
    now() {
      const ns = nowNs();
      return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
    },
    nowMs() {
      return Number(nowNs() / 1_000_000n);
    },
  };
}
