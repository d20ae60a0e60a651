/**
 * Bounds on the log lines one kind of event can cause, for events an outsider controls (refused
 * peers, a plug-in's output).
 *
 * LogRateLimiter counts hits per kind: the first `linesPerWindow` hits of a window of `windowMs`
 * (which starts at the first hit after the previous one ended) are logged; later ones are only
 * counted, and the next line logged for that kind says how many it stands for (`times`). With
 * linesPerWindow 1 that is one line per kind every windowMs. At most `maxKinds` kinds are
 * tracked; past that the counts start over, so many distinct kinds cannot grow memory.
 *
 * rateLimitedLog puts one over a Logger and adds what a bare limiter cannot: when a window in
 * which lines were suppressed ends, one summary line with their count, even if the kind is never
 * hit again. close() logs the summaries still due and stops its timer.
 */
import type { Logger } from './index.js';

export interface RateLimitOptions {
  /** Default 10 000 ms. */
  windowMs?: number;
  /** Lines logged per kind per window. Default 1. */
  linesPerWindow?: number;
  /** Kinds tracked before the counts start over. Default 1000. */
  maxKinds?: number;
  /** Monotonic milliseconds. Default performance.now(). */
  nowMs?: () => number;
}

interface KindState {
  windowStartMs: number;
  logged: number;
  suppressed: number;
}

export class LogRateLimiter {
  readonly windowMs: number;
  private readonly linesPerWindow: number;
  private readonly maxKinds: number;
  private readonly nowMs: () => number;
  private readonly kinds = new Map<string, KindState>();

  constructor(opts: RateLimitOptions = {}) {
    this.windowMs = opts.windowMs ?? 10_000;
    this.linesPerWindow = opts.linesPerWindow ?? 1;
    this.maxKinds = opts.maxKinds ?? 1000;
    this.nowMs = opts.nowMs ?? (() => performance.now());
  }

  /** Counts one hit of `kind`: 0 when its line is suppressed, else how many hits the line stands for. */
  hit(kind: string): number {
    const now = this.nowMs();
    let k = this.kinds.get(kind);
    if (!k) {
      if (this.kinds.size >= this.maxKinds) this.kinds.clear(); // many kinds: start over
      k = { windowStartMs: -Infinity, logged: 0, suppressed: 0 };
      this.kinds.set(kind, k);
    }
    if (now - k.windowStartMs >= this.windowMs) {
      k.windowStartMs = now;
      k.logged = 0;
    }
    if (k.logged >= this.linesPerWindow) {
      k.suppressed++;
      return 0;
    }
    k.logged++;
    const times = 1 + k.suppressed;
    k.suppressed = 0;
    return times;
  }

  hasSuppressed(): boolean {
    for (const k of this.kinds.values()) if (k.suppressed > 0) return true;
    return false;
  }

  /** Takes the suppressed counts of the kinds whose window has ended (all of them with `all`). */
  takeSuppressed(all = false): Array<{ kind: string; suppressed: number }> {
    const now = this.nowMs();
    const out: Array<{ kind: string; suppressed: number }> = [];
    for (const [kind, k] of this.kinds) {
      if (k.suppressed === 0 || (!all && now - k.windowStartMs < this.windowMs)) continue;
      out.push({ kind, suppressed: k.suppressed });
      k.suppressed = 0;
    }
    return out;
  }
}

type Level = 'debug' | 'info' | 'warn' | 'error';

export interface RateLimitedLog {
  /** Logs `msg` at `level` unless `kind` is over its budget; the line carries `times` when it stands for more than one hit. */
  line(level: Level, kind: string, fields: Record<string, unknown>, msg: string): void;
  /** Logs the summaries still due and stops the timer. Later lines are still limited. */
  close(): void;
}

/** A Logger whose lines are limited per kind, with a summary line (`summary(kind, n)`) for each window that suppressed n. */
export function rateLimitedLog(log: Logger, opts: RateLimitOptions & {
  summary(kind: string, suppressed: number): { fields: Record<string, unknown>; msg: string };
}): RateLimitedLog {
  const limiter = new LogRateLimiter(opts);
  let timer: NodeJS.Timeout | undefined;
  const summarize = (all: boolean) => {
    for (const { kind, suppressed } of limiter.takeSuppressed(all)) {
      const { fields, msg } = opts.summary(kind, suppressed);
      log.warn({ ...fields, suppressed }, msg);
    }
  };
  const arm = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      summarize(false);
      if (limiter.hasSuppressed()) arm(); // a later window of some kind is suppressing still
    }, limiter.windowMs);
    timer.unref();
  };
  return {
    line(level, kind, fields, msg) {
      const times = limiter.hit(kind);
      if (times === 0) return arm();
      log[level](times > 1 ? { ...fields, times } : fields, msg);
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
      summarize(true);
    },
  };
}
