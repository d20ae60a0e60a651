/**
 * The agent's embedded HTTP server (fastify) on [Agent] HTTPServerIPAddr:HTTPServerTCPPort:
 * what operators and monitoring read. docs/OBSERVABILITY.md lists the endpoints.
 *
 * Parts: server.ts (buildHttpServer for inject(), startHttpServer listening), status.ts
 * (/, /version, /health, /config), leases.ts (/leases and its POSTs, through LeaseView),
 * common/http (conventions, /metrics and /stats).
 * Invariants: it only reads (metrics, health checks, the redacted config); the only changing
 * requests, POST /leases/*, go through the lease manager's API (501 when built without one).
 * Started by main.ts after the mount, closed before the unmount; port 0 starts nothing.
 */
export { buildHttpServer, startHttpServer, type AgentHttpOptions, type HttpServerHandle } from './server.js';
export { checkHealth, HEALTH_TIMEOUT_MS, type HealthChecks } from './status.js';
export { LEASES_OFF, type LeaseSnapshot, type LeaseView } from './leases.js';
