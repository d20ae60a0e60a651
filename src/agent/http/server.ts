/** The agent's fastify instance (buildHttpServer, for inject() in tests) and its listener. */
import type { FastifyInstance } from 'fastify';
import type { Config, Schema } from '../../common/config/index.js';
import { addMetricsRoutes, createHttpApp, listenHttp, type VersionInfo } from '../../common/http/index.js';
import type { MetricsSource } from '../../common/metrics/index.js';
import type { Logger } from '../../common/rpc/index.js';
import { addLeaseRoutes, type LeaseView } from './leases.js';
import { addStatusRoutes, type HealthChecks } from './status.js';

export interface AgentHttpOptions {
  /** HTTPServerIPAddr. */
  host: string;
  /** HTTPServerTCPPort; 0 means no server. */
  port: number;
  /** The volume, for the index page's title. */
  volume: string;
  log: Logger;
  metrics: MetricsSource;
  config: Config;
  schema: Schema;
  version: VersionInfo;
  health: HealthChecks;
  /** The lease manager, once leases exist (issue 5). */
  leases?: LeaseView;
  /** The token state-changing requests (POST) must carry; undefined refuses them (HTTPServerAdminTokenFile). */
  adminToken?: string;
}

export interface HttpServerHandle {
  readonly address: { host: string; port: number };
  /** Stops listening; requests in flight finish, idle connections are closed. */
  close(): Promise<void>;
}

export function buildHttpServer(o: Omit<AgentHttpOptions, 'host' | 'port'>): FastifyInstance {
  const http = createHttpApp({ log: o.log });
  addStatusRoutes(http, { title: `pfsagentd ${o.volume}`, version: o.version, health: o.health, config: o.config, schema: o.schema });
  addLeaseRoutes(http, o.leases, o.adminToken);
  addMetricsRoutes(http, o.metrics);
  return http.app;
}

/** Listens on host:port; resolves undefined without listening when port is 0 (disabled). */
export async function startHttpServer(o: AgentHttpOptions): Promise<HttpServerHandle | undefined> {
  if (o.port === 0) return undefined;
  const app = buildHttpServer(o);
  const address = await listenHttp(app, o.host, o.port, '[Agent] HTTPServerIPAddr, HTTPServerTCPPort');
  o.log.info({ address: `${address.host}:${address.port}` }, 'http server listening');
  return { address, close: () => app.close() };
}
