/**
 * proxyfsd's HTTP admin server (fastify) on [HTTPServer] IPAddr:TCPPort (port 0, the default,
 * starts nothing): volumes, mounts with their open files, leases and locks per volume and per
 * mount, GC and compaction progress, /metrics, /stats and /health.
 * docs/OBSERVABILITY.md lists the endpoints.
 *
 * Parts: routes.ts (the admin routes), common/http (conventions, /metrics and /stats).
 * Invariants: read-only; object-store URLs are shown without user info or query; the config
 * is served through redact().
 */
import type { FastifyInstance } from 'fastify';
import { addMetricsRoutes, createHttpApp, listenHttp } from '../../common/http/index.js';
import type { MetricsSource } from '../../common/metrics/index.js';
import type { Logger } from '../../common/rpc/index.js';
import { addAdminRoutes, type AdminOptions } from './routes.js';

export { inoHex, shownStoreUrl } from './routes.js';

export interface VolumeHttpOptions extends AdminOptions {
  host: string;
  /** 0: no server. */
  port: number;
  log: Logger;
  metrics: MetricsSource;
}

export interface AdminServerHandle {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export function buildAdminServer(o: Omit<VolumeHttpOptions, 'host' | 'port'>): FastifyInstance {
  const http = createHttpApp({ log: o.log });
  addAdminRoutes(http, o);
  addMetricsRoutes(http, o.metrics);
  return http.app;
}

/** Listens on host:port; resolves undefined without listening when port is 0 (disabled). */
export async function startAdminServer(o: VolumeHttpOptions): Promise<AdminServerHandle | undefined> {
  if (o.port === 0) return undefined;
  const app = buildAdminServer(o);
  const address = await listenHttp(app, o.host, o.port, '[HTTPServer] IPAddr, TCPPort');
  o.log.info({ address: `${address.host}:${address.port}` }, 'http admin server listening');
  return { address, close: () => app.close() };
}
