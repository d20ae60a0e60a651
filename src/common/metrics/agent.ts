/**
 * pfsagentd's metrics: one Registry, typed handles, and the observer objects main.ts hands to
 * components (FUSE op table, RPC client, object-store wrapper). Figures that components keep
 * themselves (read cache, writeback, auth plug-in) are read at scrape time from attach()ed
 * sources, the lease manager's too (docs/OBSERVABILITY.md).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { RpcClientHooks } from '../rpc/index.js';
import type { StoreObserver } from '../objectstore/index.js';
import { createBase, createStoreMetrics, LATENCY_BUCKETS, setCounter, type MetricsSource, type ProcessFigures, type StoreFigures } from './base.js';
import { byLabel, byLabels, histogramsBy, total, type HistogramFigures } from './figures.js';

/** What the FUSE op table reports (agent/fuse/ops.ts takes any object of this shape). */
export interface FuseOpObserver {
  /** One op answered after `seconds`; errno is the code name ('ENOENT') when it failed. */
  onOp(op: string, seconds: number, errno?: string): void;
  onRead(bytes: number): void;
  onWrite(bytes: number): void;
}

export interface ReadCacheFigures { hits: number; misses: number; bytesFetched: number; lines: number; checksumErrors: number }
export interface WritebackFigures {
  dirtyBytes: number; segmentsInFlight: number; segmentsOpen: number; segmentsWritten: number;
  bytesWritten: number; segmentsFailed: number; putRetries: number; segmentsReprovisioned: number;
  segmentsMarkedUnstored: number; writesRefusedFull: number;
}
export interface CredentialFigures { renewals: number; pluginStarts: number; pluginFailures: number }
/** What agent/lease's stats() gives (LeaseStats has this shape). */
export interface LeaseFigures {
  shared: number; exclusive: number; transitions: number; interruptsDemote: number; interruptsRelease: number;
  denials: number; limitRevocations: number; retries: number; evictions: number;
}

/** Components whose own counters are read at scrape time. */
export interface AgentSources {
  readCache?: { stats(): ReadCacheFigures };
  writeback?: { stats(): WritebackFigures };
  /** The auth CredentialSource (common/auth): its `stats` are read, nothing else. */
  credentials?: { readonly stats: CredentialFigures };
  leases?: { stats(): LeaseFigures };
}

export interface AgentStats {
  timeMs: number;
  process: ProcessFigures;
  fuse: {
    ops: Record<string, { count: number; errors: Record<string, number>; seconds: HistogramFigures }>;
    readBytes: number;
    writtenBytes: number;
  };
  rpc: {
    methods: Record<string, { calls: number; errors: Record<string, number>; seconds: HistogramFigures; resends: number; deadlineExpired: number }>;
    reconnects: number;
  };
  objectStore: Record<string, Record<string, StoreFigures>>;
  readCache?: ReadCacheFigures;
  writeback?: WritebackFigures;
  auth?: CredentialFigures;
  leases?: LeaseFigures;
}

export interface AgentMetrics extends MetricsSource {
  readonly fuse: FuseOpObserver;
  readonly rpc: RpcClientHooks;
  readonly objectStore: StoreObserver;
  /** For the object-store retry wrapper's onRetry hook: one retry of `op` against `backend`. */
  onRetry(op: string, backend: string): void;
  /** Adds (or replaces) sources read at scrape time. */
  attach(sources: AgentSources): void;
  stats(): Promise<AgentStats>;
  /** Stops the event-loop monitor. */
  close(): void;
}

const P = 'pfsagent';

export function createAgentMetrics(): AgentMetrics {
  const base = createBase(P);
  const registry = base.registry;
  const registers = [registry];
  const src: AgentSources = {};

  const fuseOps = new Counter({ name: `${P}_fuse_ops_total`, help: 'FUSE requests answered, by op.', labelNames: ['op'], registers });
  const fuseErrors = new Counter({ name: `${P}_fuse_op_errors_total`, help: 'FUSE requests answered with an error, by op and errno name (EIO: unexpected failures).', labelNames: ['op', 'errno'], registers });
  const fuseSeconds = new Histogram({ name: `${P}_fuse_op_duration_seconds`, help: 'FUSE request latency inside the agent, by op.', labelNames: ['op'], buckets: LATENCY_BUCKETS, registers });
  const readBytes = new Counter({ name: `${P}_fuse_read_bytes_total`, help: 'Bytes returned by FUSE read requests.', registers });
  const writtenBytes = new Counter({ name: `${P}_fuse_written_bytes_total`, help: 'Bytes accepted by FUSE write requests.', registers });

  const rpcCalls = new Counter({ name: `${P}_rpc_calls_total`, help: 'RPCs to the volume server that ended, by method and result (ok, or the error code).', labelNames: ['method', 'result'], registers });
  const rpcSeconds = new Histogram({ name: `${P}_rpc_duration_seconds`, help: 'RPC latency from first send to reply (resends and reconnects included), by method.', labelNames: ['method'], buckets: LATENCY_BUCKETS, registers });
  const rpcResends = new Counter({ name: `${P}_rpc_resends_total`, help: 'RPCs sent again after a reconnect (the server answers each once), by method.', labelNames: ['method'], registers });
  const rpcReconnects = new Counter({ name: `${P}_rpc_reconnects_total`, help: 'Connections to the volume server re-established after one was lost.', registers });
  const rpcDeadlines = new Counter({ name: `${P}_rpc_deadline_expired_total`, help: 'RPCs that got no reply within RetryRPCDeadlineIO, by method.', labelNames: ['method'], registers });

  const store = createStoreMetrics(registry, P);

  const authRenewals = new Counter({ name: `${P}_auth_renewals_total`, help: 'Credential renewals asked of the auth plug-in.', registers, collect() { this.reset(); setCounter(this, src.credentials?.stats.renewals ?? 0); } });
  const authStarts = new Counter({ name: `${P}_auth_plugin_starts_total`, help: 'Auth plug-in process starts (restarts included).', registers, collect() { this.reset(); setCounter(this, src.credentials?.stats.pluginStarts ?? 0); } });
  const authFailures = new Counter({ name: `${P}_auth_plugin_failures_total`, help: 'Auth plug-in failures (exit, bad output, no answer in time).', registers, collect() { this.reset(); setCounter(this, src.credentials?.stats.pluginFailures ?? 0); } });

  const rc = (): ReadCacheFigures | undefined => src.readCache?.stats();
  new Counter({ name: `${P}_readcache_hits_total`, help: 'Read-cache lines found cached.', registers, collect() { this.reset(); setCounter(this, rc()?.hits ?? 0); } });
  new Counter({ name: `${P}_readcache_misses_total`, help: 'Read-cache lines not cached when a read wanted them (joining a GET in flight included).', registers, collect() { this.reset(); setCounter(this, rc()?.misses ?? 0); } });
  new Counter({ name: `${P}_readcache_fetched_bytes_total`, help: 'Bytes fetched from the object store into the read cache.', registers, collect() { this.reset(); setCounter(this, rc()?.bytesFetched ?? 0); } });
  new Counter({ name: `${P}_readcache_checksum_errors_total`, help: 'Lines fetched from the object store whose CRC32 did not match (not cached; the read failed).', registers, collect() { this.reset(); setCounter(this, rc()?.checksumErrors ?? 0); } });
  new Gauge({ name: `${P}_readcache_lines`, help: 'Lines held in the read cache.', registers, collect() { this.set(rc()?.lines ?? 0); } });

  const wb = (): WritebackFigures | undefined => src.writeback?.stats();
  new Gauge({ name: `${P}_writeback_dirty_bytes`, help: 'Bytes written by applications and not yet reported to the volume server (open and in-flight log segments).', registers, collect() { this.set(wb()?.dirtyBytes ?? 0); } });
  new Gauge({ name: `${P}_writeback_segments_in_flight`, help: 'Log segments closed and being uploaded or reported (PUT, then Wrote).', registers, collect() { this.set(wb()?.segmentsInFlight ?? 0); } });
  new Gauge({ name: `${P}_writeback_segments_open`, help: 'Log segments taking writes.', registers, collect() { this.set(wb()?.segmentsOpen ?? 0); } });
  new Counter({ name: `${P}_writeback_segments_written_total`, help: 'Log segments uploaded and reported with Wrote.', registers, collect() { this.reset(); setCounter(this, wb()?.segmentsWritten ?? 0); } });
  new Counter({ name: `${P}_writeback_segments_failed_total`, help: 'Log segments that failed for good (their writes were lost; the next fsync/close returned EIO).', registers, collect() { this.reset(); setCounter(this, wb()?.segmentsFailed ?? 0); } });
  new Counter({ name: `${P}_writeback_segments_unstored_total`, help: 'Failed log segments whose ranges the volume server marked unstored (they read as EIO until rewritten).', registers, collect() { this.reset(); setCounter(this, wb()?.segmentsMarkedUnstored ?? 0); } });
  new Counter({ name: `${P}_writeback_writes_refused_full_total`, help: 'Writes answered ENOSPC at once because the object store was full (or the volume at its Capacity) moments before.', registers, collect() { this.reset(); setCounter(this, wb()?.writesRefusedFull ?? 0); } });
  new Counter({ name: `${P}_writeback_put_retries_total`, help: 'Log-segment PUTs retried by writeback.', registers, collect() { this.reset(); setCounter(this, wb()?.putRetries ?? 0); } });
  new Counter({ name: `${P}_writeback_segments_reprovisioned_total`, help: 'Log segments written again under a fresh object number after the volume server refused theirs (expired, dead or unknown).', registers, collect() { this.reset(); setCounter(this, wb()?.segmentsReprovisioned ?? 0); } });

  const ls = (): LeaseFigures | undefined => src.leases?.stats();
  new Gauge({ name: `${P}_leases_held`, help: 'Leases this mount holds, by type (shared, exclusive).', labelNames: ['type'], registers, collect() { const l = ls(); this.set({ type: 'shared' }, l?.shared ?? 0); this.set({ type: 'exclusive' }, l?.exclusive ?? 0); } });
  new Gauge({ name: `${P}_lease_transitions`, help: 'Inodes with a lease call to the volume server in progress (requesting, promoting, demoting, releasing).', registers, collect() { this.set(ls()?.transitions ?? 0); } });
  new Counter({ name: `${P}_lease_interrupts_total`, help: 'LeaseInterrupt upcalls received (revocations: another mount needs the lease), by action (demote, release); re-sent ones included.', labelNames: ['action'], registers, collect() { this.reset(); const l = ls(); setCounter(this, l?.interruptsDemote ?? 0, { action: 'demote' }); setCounter(this, l?.interruptsRelease ?? 0, { action: 'release' }); } });
  new Counter({ name: `${P}_lease_limit_revocations_total`, help: 'Leases demoted or released because SharedLeaseLimit or ExclusiveLeaseLimit was exceeded.', registers, collect() { this.reset(); setCounter(this, ls()?.limitRevocations ?? 0); } });
  new Counter({ name: `${P}_lease_denials_total`, help: 'Lease promotions the volume server denied (PFS_ERR_LEASE_DENIED; the lease was released and Exclusive asked for).', registers, collect() { this.reset(); setCounter(this, ls()?.denials ?? 0); } });
  new Counter({ name: `${P}_lease_retries_total`, help: 'Lease requests asked again (per the LeaseRetry* keys).', registers, collect() { this.reset(); setCounter(this, ls()?.retries ?? 0); } });
  new Counter({ name: `${P}_mount_evictions_total`, help: 'Times the volume server evicted this mount (a lease interrupt went unanswered, or its claim after a proxyfsd restart was refused) and the agent mounted again.', registers, collect() { this.reset(); setCounter(this, ls()?.evictions ?? 0); } });

  return {
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    fuse: {
      onOp(op, seconds, errno) {
        fuseOps.inc({ op });
        fuseSeconds.observe({ op }, seconds);
        if (errno !== undefined) fuseErrors.inc({ op, errno });
      },
      onRead: (n) => readBytes.inc(n),
      onWrite: (n) => writtenBytes.inc(n),
    },
    rpc: {
      onCallDone(method, seconds, code) {
        rpcCalls.inc({ method, result: code ?? 'ok' });
        rpcSeconds.observe({ method }, seconds);
      },
      onResend: (method) => rpcResends.inc({ method }),
      onReconnect: () => rpcReconnects.inc(),
      onDeadline: (method) => rpcDeadlines.inc({ method }),
    },
    objectStore: store.observer,
    onRetry: store.onRetry,
    attach(sources) {
      Object.assign(src, sources);
    },
    async stats() {
      const opCounts = await byLabel(fuseOps, 'op');
      const opErrors = await byLabels(fuseErrors, 'op', 'errno');
      const opSeconds = await histogramsBy(fuseSeconds, ['op']);
      const ops: AgentStats['fuse']['ops'] = {};
      for (const op of Object.keys(opCounts).sort()) {
        ops[op] = { count: opCounts[op]!, errors: opErrors[op] ?? {}, seconds: opSeconds[op]! };
      }
      const calls = await byLabels(rpcCalls, 'method', 'result');
      const rpcHist = await histogramsBy(rpcSeconds, ['method']);
      const resends = await byLabel(rpcResends, 'method');
      const deadlines = await byLabel(rpcDeadlines, 'method');
      const methods: AgentStats['rpc']['methods'] = {};
      for (const method of Object.keys(calls).sort()) {
        const { ok = 0, ...errors } = calls[method]!;
        const failed = Object.values(errors).reduce((a, b) => a + b, 0);
        methods[method] = { calls: ok + failed, errors, seconds: rpcHist[method]!, resends: resends[method] ?? 0, deadlineExpired: deadlines[method] ?? 0 };
      }
      const out: AgentStats = {
        timeMs: Date.now(),
        process: base.processFigures(),
        fuse: { ops, readBytes: await total(readBytes), writtenBytes: await total(writtenBytes) },
        rpc: { methods, reconnects: await total(rpcReconnects) },
        objectStore: await store.figures(),
      };
      const r = rc();
      if (r) out.readCache = { hits: r.hits, misses: r.misses, bytesFetched: r.bytesFetched, lines: r.lines, checksumErrors: r.checksumErrors };
      const w = wb();
      if (w) {
        out.writeback = {
          dirtyBytes: w.dirtyBytes, segmentsInFlight: w.segmentsInFlight, segmentsOpen: w.segmentsOpen, segmentsWritten: w.segmentsWritten,
          bytesWritten: w.bytesWritten, segmentsFailed: w.segmentsFailed, putRetries: w.putRetries, segmentsReprovisioned: w.segmentsReprovisioned,
          segmentsMarkedUnstored: w.segmentsMarkedUnstored, writesRefusedFull: w.writesRefusedFull,
        };
      }
      const l = ls();
      if (l) out.leases = { ...l };
      if (src.credentials) {
        out.auth = { renewals: await total(authRenewals), pluginStarts: await total(authStarts), pluginFailures: await total(authFailures) };
      }
      return out;
    },
    close: () => base.close(),
  };
}
