/**
 * proxyfsd's metrics: one Registry and typed handles. The RPC dispatcher reports each call and
 * each batch (group commit) through `dispatch`; mounts, connected clients and GC figures are
 * read at scrape time from attach()ed sources.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { StoreObserver } from '../objectstore/index.js';
import { createBase, createStoreMetrics, LATENCY_BUCKETS, setCounter, type MetricsSource, type ProcessFigures, type StoreFigures } from './base.js';
import { byLabels, histogramsBy, total, type HistogramFigures } from './figures.js';

/** What the dispatcher reports (volume/server takes any object of this shape). */
export interface DispatchObserver {
  /** One call executed in `seconds` (its savepoint, not the commit); code is the error code when it failed. */
  onCall(method: string, seconds: number, code: string | undefined): void;
  /** One batch: `calls` requests, dispatched and committed in `seconds` with `commits` transactions. */
  onBatch(calls: number, seconds: number, commits: number): void;
  /** One object-store token check that reached the store, by volume and result (valid, rejected, unverified). */
  onTokenCheck?(volume: string, result: string): void;
}

export interface GcFigures {
  rounds: number; deletedObjects: number; expiredObjects: number; compactionRuns: number; compactedObjects: number;
  compactedBytes: number; storeErrors: number; checksumErrors: number; running: boolean; lastError?: string;
}

export interface VolumeSources {
  gc?: () => { volume: string; stats: GcFigures }[];
  mounts?: () => { volume: string; connected: boolean }[];
  connectedClients?: () => number;
}

export interface VolumeStats {
  timeMs: number;
  process: ProcessFigures;
  rpc: {
    methods: Record<string, { calls: number; errors: Record<string, number>; seconds: HistogramFigures }>;
    batches: { count: number; calls: number; sizes: HistogramFigures; seconds: HistogramFigures; commits: number };
    connectedClients: number;
  };
  mounts: Record<string, { connected: number; disconnected: number }>;
  gc: Record<string, GcFigures>;
  objectStore: Record<string, Record<string, StoreFigures>>;
}

export interface VolumeMetrics extends MetricsSource {
  readonly dispatch: DispatchObserver;
  readonly objectStore: StoreObserver;
  onRetry(op: string, backend: string): void;
  attach(sources: VolumeSources): void;
  stats(): Promise<VolumeStats>;
  close(): void;
}

const P = 'proxyfsd';
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

const GC_COUNTERS: [keyof GcFigures, string, string][] = [
  ['rounds', 'gc_rounds_total', 'GC rounds run (deleter and compaction), by volume.'],
  ['deletedObjects', 'gc_deleted_objects_total', 'Dead objects deleted from the object store, by volume.'],
  ['expiredObjects', 'gc_expired_objects_total', 'Provisioned objects never reported by a Wrote and deleted after ProvisionedObjectTTL, by volume.'],
  ['compactionRuns', 'compaction_runs_total', 'Compaction runs, by volume.'],
  ['compactedObjects', 'compacted_objects_total', 'Mostly-dead objects rewritten by compaction, by volume.'],
  ['compactedBytes', 'compacted_bytes_total', 'Live bytes copied into new objects by compaction, by volume.'],
  ['storeErrors', 'gc_store_errors_total', 'Object-store failures met by GC and compaction, by volume.'],
  ['checksumErrors', 'gc_checksum_errors_total', 'Checksum mismatches met by compaction, by volume.'],
];

export function createVolumeMetrics(): VolumeMetrics {
  const base = createBase(P);
  const registry = base.registry;
  const registers = [registry];
  const src: VolumeSources = {};

  const calls = new Counter({ name: `${P}_rpc_calls_total`, help: 'RPCs executed, by method and result (ok, or the error code). Replies answered from the reply cache are not counted.', labelNames: ['method', 'result'], registers });
  const callSeconds = new Histogram({ name: `${P}_rpc_duration_seconds`, help: 'RPC execution time inside its batch transaction (commit excluded), by method.', labelNames: ['method'], buckets: LATENCY_BUCKETS, registers });
  const batchSizes = new Histogram({ name: `${P}_rpc_batch_size`, help: 'Requests per dispatched batch (group commit: one transaction per volume per batch).', buckets: BATCH_BUCKETS, registers });
  const batchSeconds = new Histogram({ name: `${P}_rpc_batch_duration_seconds`, help: 'Time to execute and commit one batch.', buckets: LATENCY_BUCKETS, registers });
  const tokenChecks = new Counter({ name: `${P}_auth_token_checks_total`, help: 'Agents\' object-store tokens tried against the store (at Mount, RenewMount and the periodic re-check), by volume and result: valid, rejected (the mount\'s calls are refused until renewed), unverified (the store could not say).', labelNames: ['volume', 'result'], registers });
  const commits = new Counter({ name: `${P}_commits_total`, help: 'Metadata transactions committed (group commits; one fsync each).', registers });
  new Gauge({
    name: `${P}_mounts`, help: 'Mounts, by volume and whether their agent is connected.', labelNames: ['volume', 'connected'], registers,
    collect() {
      this.reset();
      for (const m of src.mounts?.() ?? []) this.inc({ volume: m.volume, connected: String(m.connected) });
    },
  });
  new Gauge({ name: `${P}_rpc_clients_connected`, help: 'RPC clients (agents) connected.', registers, collect() { this.set(src.connectedClients?.() ?? 0); } });
  for (const [field, name, help] of GC_COUNTERS) {
    new Counter({
      name: `${P}_${name}`, help, labelNames: ['volume'], registers,
      collect() {
        this.reset();
        for (const v of src.gc?.() ?? []) setCounter(this, Number(v.stats[field]), { volume: v.volume });
      },
    });
  }
  new Gauge({
    name: `${P}_gc_running`, help: '1 while a GC or compaction job runs, by volume.', labelNames: ['volume'], registers,
    collect() {
      this.reset();
      for (const v of src.gc?.() ?? []) this.set({ volume: v.volume }, v.stats.running ? 1 : 0);
    },
  });
  const store = createStoreMetrics(registry, P);

  return {
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    dispatch: {
      onCall(method, seconds, code) {
        calls.inc({ method, result: code ?? 'ok' });
        callSeconds.observe({ method }, seconds);
      },
      onBatch(n, seconds, committed) {
        batchSizes.observe(n);
        batchSeconds.observe(seconds);
        if (committed > 0) commits.inc(committed);
      },
      onTokenCheck(volume, result) {
        tokenChecks.inc({ volume, result });
      },
    },
    objectStore: store.observer,
    onRetry: store.onRetry,
    attach(sources) {
      Object.assign(src, sources);
    },
    async stats() {
      const byMethod = await byLabels(calls, 'method', 'result');
      const hist = await histogramsBy(callSeconds, ['method']);
      const methods: VolumeStats['rpc']['methods'] = {};
      for (const method of Object.keys(byMethod).sort()) {
        const { ok = 0, ...errors } = byMethod[method]!;
        methods[method] = { calls: ok + Object.values(errors).reduce((a, b) => a + b, 0), errors, seconds: hist[method]! };
      }
      const sizes = (await histogramsBy(batchSizes, []))[''] ?? { count: 0, sum: 0, buckets: [] };
      const mounts: VolumeStats['mounts'] = {};
      for (const m of src.mounts?.() ?? []) {
        const e = (mounts[m.volume] ??= { connected: 0, disconnected: 0 });
        if (m.connected) e.connected++;
        else e.disconnected++;
      }
      const gc: VolumeStats['gc'] = {};
      for (const v of src.gc?.() ?? []) gc[v.volume] = { ...v.stats };
      return {
        timeMs: Date.now(),
        process: base.processFigures(),
        rpc: {
          methods,
          batches: {
            count: sizes.count, calls: sizes.sum, sizes,
            seconds: (await histogramsBy(batchSeconds, []))[''] ?? { count: 0, sum: 0, buckets: [] },
            commits: await total(commits),
          },
          connectedClients: src.connectedClients?.() ?? 0,
        },
        mounts,
        gc,
        objectStore: await store.figures(),
      };
    },
    close: () => base.close(),
  };
}
