/**
 * What every pfs registry holds: prom-client's default process metrics (memory, CPU, file
 * descriptors, GC, nodejs_eventloop_lag_*), a windowed event-loop-delay gauge of our own, and
 * the object-store family (both processes talk to object stores).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreObserver } from '../objectstore/index.js';
import { monitorEventLoop, type EventLoopDelay } from './event-loop.js';
import { byLabels, histogramsBy, type HistogramFigures } from './figures.js';

/** Seconds: 100 µs .. 10 s, for FUSE ops and RPCs. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: 1 ms .. 60 s, for object-store requests. */
export const STORE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The surface the HTTP servers read: Prometheus text and the same figures as JSON. */
export interface MetricsSource {
  readonly contentType: string;
  /** Prometheus text exposition format 0.0.4. */
  metrics(): Promise<string>;
  /** The same figures as one JSON document (/stats). */
  stats(): Promise<object>;
}

export interface ProcessFigures {
  uptimeSeconds: number;
  residentMemoryBytes: number;
  heapUsedBytes: number;
  eventLoopDelay: EventLoopDelay;
}

export interface Base {
  registry: Registry;
  processFigures(): ProcessFigures;
  close(): void;
}

export function createBase(prefix: string): Base {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const loop = monitorEventLoop();
  new Gauge({
    name: `${prefix}_event_loop_delay_seconds`,
    help: 'Event-loop delay over the last complete 10 s window (perf_hooks.monitorEventLoopDelay), by statistic; reading does not reset it.',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      const d = loop.read();
      this.set({ stat: 'p50' }, d.p50Seconds);
      this.set({ stat: 'p99' }, d.p99Seconds);
      this.set({ stat: 'max' }, d.maxSeconds);
      this.set({ stat: 'mean' }, d.meanSeconds);
    },
  });
  return {
    registry,
    processFigures() {
      const mem = process.memoryUsage();
      return { uptimeSeconds: process.uptime(), residentMemoryBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopDelay: loop.read() };
    },
    close: () => loop.close(),
  };
}

/** Sets a counter to a value read elsewhere at scrape time (from its collect()). */
export function setCounter(c: Counter<string>, value: number, labels: Record<string, string> = {}): void {
  c.inc(labels, Math.max(0, value));
}

/** Per backend and op: requests, errors by code, bytes, latency, retries. */
export interface StoreFigures {
  requests: number;
  errors: Record<string, number>;
  bytes: number;
  retries: number;
  seconds: HistogramFigures;
}

export interface StoreMetrics {
  observer: StoreObserver;
  onRetry(op: string, backend: string): void;
  figures(): Promise<Record<string, Record<string, StoreFigures>>>;
}

export function createStoreMetrics(registry: Registry, prefix: string): StoreMetrics {
  const registers = [registry];
  const requests = new Counter({ name: `${prefix}_objectstore_requests_total`, help: 'Object-store requests (every attempt), by backend and op (get, put, head, delete, list).', labelNames: ['backend', 'op'], registers });
  const errors = new Counter({ name: `${prefix}_objectstore_errors_total`, help: 'Object-store requests that failed, by backend, op and error code (PFS_ERR_OBJECT_MISSING included).', labelNames: ['backend', 'op', 'code'], registers });
  const bytes = new Counter({ name: `${prefix}_objectstore_bytes_total`, help: 'Bytes moved by successful object-store requests: received by get, sent by put.', labelNames: ['backend', 'op'], registers });
  const seconds = new Histogram({ name: `${prefix}_objectstore_request_duration_seconds`, help: 'Object-store request latency (a list: until its last entry), by backend and op.', labelNames: ['backend', 'op'], buckets: STORE_BUCKETS, registers });
  const retries = new Counter({ name: `${prefix}_objectstore_retries_total`, help: 'Object-store requests retried by the retry wrapper, by backend and op.', labelNames: ['backend', 'op'], registers });
  return {
    observer: {
      onCall(backend, op, sec, n, code) {
        const labels = { backend, op };
        requests.inc(labels);
        seconds.observe(labels, sec);
        if (code !== undefined) errors.inc({ backend, op, code });
        else if (n > 0) bytes.inc(labels, n);
      },
    },
    onRetry(op, backend) {
      retries.inc({ backend, op });
    },
    async figures() {
      const out: Record<string, Record<string, StoreFigures>> = {};
      const req = await byLabels(requests, 'backend', 'op');
      const by = await byLabels(bytes, 'backend', 'op');
      const rt = await byLabels(retries, 'backend', 'op');
      const hist = await histogramsBy(seconds, ['backend', 'op']);
      const errs = (await errors.get()).values;
      const entry = (b: string, op: string): StoreFigures => ((out[b] ??= {})[op] ??= {
        requests: 0, errors: {}, bytes: 0, retries: 0, seconds: { count: 0, sum: 0, buckets: [] },
      });
      for (const [b, ops] of Object.entries(req)) for (const [op, n] of Object.entries(ops)) entry(b, op).requests = n;
      for (const [b, ops] of Object.entries(by)) for (const [op, n] of Object.entries(ops)) entry(b, op).bytes = n;
      for (const [b, ops] of Object.entries(rt)) for (const [op, n] of Object.entries(ops)) entry(b, op).retries = n;
      for (const [key, h] of Object.entries(hist)) {
        const [b, op] = key.split('/') as [string, string];
        entry(b, op).seconds = h;
      }
      for (const v of errs) {
        const e = entry(String(v.labels.backend), String(v.labels.op));
        e.errors[String(v.labels.code)] = v.value;
      }
      return out;
    },
  };
}
