/** GET /metrics (Prometheus text) and GET /stats (the same figures as JSON), for either process. */
import type { MetricsSource } from '../metrics/index.js';
import { sendJson, type HttpApp } from './app.js';

export function addMetricsRoutes(http: HttpApp, metrics: MetricsSource): void {
  http.route('GET', '/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  http.route('GET', '/stats', async (req, reply) => sendJson(req, reply, await metrics.stats()));
}
