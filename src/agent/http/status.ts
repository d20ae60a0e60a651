/** GET /, /version, /health and /config of the agent. */
import type { Config, Schema } from '../../common/config/index.js';
import { redact } from '../../common/config/index.js';
import { indexPage, sendJson, type Handler, type HttpApp, type VersionInfo } from '../../common/http/index.js';

export interface HealthChecks {
  /** The volume is mounted and the agent is not shutting down. */
  mounted(): Promise<boolean>;
  /** One cheap round trip to the volume server; rejects after timeoutMs. */
  ping(timeoutMs: number): Promise<void>;
}

export const HEALTH_TIMEOUT_MS = 1000;

/** undefined when ready, else why not. */
export async function checkHealth(checks: HealthChecks, timeoutMs = HEALTH_TIMEOUT_MS): Promise<string | undefined> {
  if (!(await checks.mounted())) return 'not mounted';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([checks.ping(timeoutMs), timeout]);
    return undefined;
  } catch (err) {
    return `the volume server did not answer a Ping: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

export interface StatusOptions {
  title: string;
  version: VersionInfo;
  health: HealthChecks;
  /** The loaded config; served through redact(), so secret keys show as [REDACTED]. */
  config: Config;
  schema: Schema;
}

export function addStatusRoutes(http: HttpApp, o: StatusOptions): void {
  const page = indexPage(o.title, [
    { path: '/config', what: 'effective configuration (secrets redacted)' },
    { path: '/health', what: 'readiness: 200 when mounted and the volume server answers, else 503 with the reason' },
    { path: '/leases', what: 'inodes by lease state' },
    { method: 'POST', path: '/leases/demote', what: 'demote every exclusive lease' },
    { method: 'POST', path: '/leases/release', what: 'release every lease' },
    { path: '/metrics', what: 'Prometheus metrics' },
    { path: '/stats', what: 'the same figures as JSON (pfs stats reads it)' },
    { path: '/version', what: 'program, package and Node versions, git commit' },
  ]);
  const redacted = redact(o.config, o.schema);
  const index: Handler = (_req, reply) => reply.type('text/html; charset=utf-8').send(page);
  http.route('GET', '/', index);
  http.route('GET', '/index.html', index);
  http.route('GET', '/version', (req, reply) => sendJson(req, reply, o.version));
  http.route('GET', '/config', (req, reply) => sendJson(req, reply, redacted));
  http.route('GET', '/health', async (req, reply) => {
    const reason = await checkHealth(o.health);
    return reason === undefined
      ? sendJson(req, reply, { status: 'ready' })
      : sendJson(req, reply, { status: 'unavailable', reason }, 503);
  });
}
