/**
 * Metrics of both processes: each owns one prom-client Registry (never the global one), made
 * by main.ts and handed to components as small observer objects, so no component imports
 * prom-client and nothing registers itself by being imported.
 *
 * Parts: base.ts (default process metrics, windowed event-loop delay, the object-store family
 * shared by both processes), agent.ts (pfsagentd), volume.ts (proxyfsd), figures.ts (metrics
 * read back as JSON for /stats; quantiles from histogram deltas for `pfs stats`),
 * event-loop.ts, test-support.ts (a strict parser of the text format, for tests).
 *
 * Invariants: /metrics and /stats read the same handles; figures a component keeps itself
 * (read cache, writeback, GC, auth plug-in) are read at scrape time through attach()ed
 * sources, never copied on a timer; no label carries a path, key, token or other
 * unbounded or secret value (labels are op, method, backend, errno/error code, volume).
 * Metric names and meanings: docs/OBSERVABILITY.md.
 */
export type { MetricsSource, ProcessFigures, StoreFigures } from './base.js';
export { createAgentMetrics, type AgentMetrics, type AgentSources, type AgentStats, type FuseOpObserver } from './agent.js';
export { createVolumeMetrics, type DispatchObserver, type GcFigures, type VolumeMetrics, type VolumeSources, type VolumeStats } from './volume.js';
export { mergeHistograms, quantile, type HistogramFigures } from './figures.js';
export type { EventLoopDelay } from './event-loop.js';
