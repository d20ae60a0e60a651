/**
 * proxyfsd's admin endpoints: what it serves and to whom. Read-only: every route reads the
 * server's in-memory state or runs one read-only SQL query.
 */
import { redact, type Config, type Schema } from '../../common/config/index.js';
import { indexPage, sendJson, type Handler, type HttpApp, type VersionInfo } from '../../common/http/index.js';
import type { VolumeServer } from '../server/index.js';
import { shortId } from '../../common/log/index.js';

/** An inode number as the reference prints it (and pfsagentd's /leases): 16 hex digits. */
export function inoHex(ino: number): string {
  return ino.toString(16).toUpperCase().padStart(16, '0');
}

export interface AdminOptions {
  server: Pick<VolumeServer, 'volumes' | 'mounts' | 'rpc'>;
  version: VersionInfo;
  config: Config;
  schema: Schema;
  /** False once shutdown began. */
  serving: () => boolean;
}

/** An object-store URL without what it may carry besides where: user info, query, fragment. */
export function shownStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export function addAdminRoutes(http: HttpApp, o: AdminOptions): void {
  const { volumes, mounts, rpc } = o.server;
  const page = indexPage('proxyfsd', [
    { path: '/config', what: 'effective configuration (secrets redacted)' },
    { path: '/gc', what: 'garbage collection and compaction progress per volume' },
    { path: '/health', what: 'readiness: 200 when serving and every volume database answers, else 503' },
    { path: '/leases', what: 'leases and locks per volume and per mount' },
    { path: '/metrics', what: 'Prometheus metrics' },
    { path: '/mounts', what: 'mounts: id, volume, connected, evicted, open files' },
    { path: '/stats', what: 'the same figures as JSON' },
    { path: '/version', what: 'program, package and Node versions, git commit' },
    { path: '/volumes', what: 'served volumes' },
  ]);
  const redacted = redact(o.config, o.schema);
  const index: Handler = (_req, reply) => reply.type('text/html; charset=utf-8').send(page);
  http.route('GET', '/', index);
  http.route('GET', '/index.html', index);
  http.route('GET', '/version', (req, reply) => sendJson(req, reply, o.version));
  http.route('GET', '/config', (req, reply) => sendJson(req, reply, redacted));

  http.route('GET', '/health', (req, reply) => {
    let reason: string | undefined;
    if (!o.serving()) reason = 'shutting down';
    for (const v of volumes.values()) {
      if (reason) break;
      try {
        v.md.db.prepare('SELECT 1').get();
      } catch (err) {
        reason = `volume ${v.name}: metadata database does not answer: ${(err as Error).message}`;
      }
    }
    return reason === undefined
      ? sendJson(req, reply, { status: 'ready', volumes: [...volumes.keys()], rpcPort: rpc.port })
      : sendJson(req, reply, { status: 'unavailable', reason }, 503);
  });

  http.route('GET', '/volumes', (req, reply) => sendJson(req, reply, [...volumes.values()].map((v) => ({
    name: v.name,
    objectStore: shownStoreUrl(v.settings.objectStoreUrl),
    mounts: mounts.list().filter((m) => m.volume === v.name && !m.evicted).length,
    gc: v.gc.stats(),
  }))));

  http.route('GET', '/mounts', (req, reply) => sendJson(req, reply, mounts.list().map((m) => ({
    mountId: shortId(m.mountId),
    volume: m.volume,
    clientId: shortId(m.clientId),
    connected: m.connected,
    evicted: m.evicted,
    openFiles: mounts.openFiles(m.mountId),
  }))));

  http.route('GET', '/leases', (req, reply) => sendJson(req, reply, {
    enabled: true,
    volumes: Object.fromEntries([...volumes.values()].map((v) => [v.name, { leases: v.leases.stats(), dirLeases: v.dirLeases.stats(), locks: v.locks.stats(), reclaim: v.reclaim.stats() }])),
    mounts: mounts.list().map((m) => {
      const v = volumes.get(m.volume);
      const held = v?.leases.held(m.mountId) ?? { shared: [], exclusive: [] };
      return {
        mountId: shortId(m.mountId),
        volume: m.volume,
        evicted: m.evicted,
        shared: held.shared.map(inoHex),
        exclusive: held.exclusive.map(inoHex),
        locks: v?.locks.held(m.mountId) ?? { posix: 0, flock: 0 },
      };
    }),
  }));

  http.route('GET', '/gc', (req, reply) => sendJson(req, reply, Object.fromEntries([...volumes.values()].map((v) => [v.name, {
    ...v.gc.stats(),
    deadObjectDeleteDelayMs: v.settings.deadObjectDeleteDelayMs,
    gcIntervalMs: v.settings.gcIntervalMs,
    compactionIntervalMs: v.settings.compactionIntervalMs,
  }]))));
}
