/**
 * The embedded HTTP servers' shared parts (fastify): both pfsagentd (agent/http) and proxyfsd
 * (volume/http) build on them.
 *
 * Parts: app.ts (fastify with JSON 404/405/500 answers, trailing slashes ignored, ?compact,
 * listen with a clear error), page.ts (the HTML index), version.ts (/version figures, read
 * once at start-up), metrics-routes.ts (/metrics and /stats over a MetricsSource).
 * Invariants: GET routes only read; every answer but the index page and /metrics is JSON;
 * nothing here serves a secret (config goes through config.redact in the routes that serve it).
 */
export { createHttpApp, errorBody, listenHttp, sendJson, wantsCompact, type Handler, type HttpApp } from './app.js';
export { indexPage, type IndexLink } from './page.js';
export { versionInfo, type VersionInfo } from './version.js';
export { addMetricsRoutes } from './metrics-routes.js';
