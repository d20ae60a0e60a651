/**
 * Event-loop delay over fixed windows (perf_hooks.monitorEventLoopDelay). read() returns the
 * figures of the last completed window (of windowMs), or of the current one before the first
 * window completes, so that any number of scrapers see the same values: unlike prom-client's
 * nodejs_eventloop_lag_* gauges, reading does not reset anything.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopDelay {
  p50Seconds: number;
  p99Seconds: number;
  maxSeconds: number;
  meanSeconds: number;
}

export interface EventLoopMonitor {
  read(): EventLoopDelay;
  close(): void;
}

const NS_PER_S = 1e9;

export function monitorEventLoop(windowMs = 10_000): EventLoopMonitor {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const snapshot = (): EventLoopDelay => h.count === 0
    ? { p50Seconds: 0, p99Seconds: 0, maxSeconds: 0, meanSeconds: 0 }
    : { p50Seconds: h.percentile(50) / NS_PER_S, p99Seconds: h.percentile(99) / NS_PER_S, maxSeconds: h.max / NS_PER_S, meanSeconds: h.mean / NS_PER_S };
  let last: EventLoopDelay | undefined;
  const timer = setInterval(() => {
    last = snapshot();
    h.reset();
  }, windowMs);
  timer.unref();
  return {
    read: () => last ?? snapshot(),
    close() {
      clearInterval(timer);
      h.disable();
    },
  };
}
