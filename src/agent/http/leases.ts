/**
 * GET /leases, POST /leases/demote, POST /leases/release. The lease manager (agent/lease) plugs
 * in through LeaseView (main.ts always gives it); a server built without one (tests) says leases
 * are off and the POSTs answer 501, never a fake success. The POSTs change state, so they need
 * the admin token (`Authorization: Bearer TOKEN`, [Agent] HTTPServerAdminTokenFile): without a
 * configured token they are refused (403), with a wrong or missing one 401; nothing changes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { errorBody, sendJson, type HttpApp } from '../../common/http/index.js';

/** Inodes (16 hex digits, as the reference prints them) by lease state; more states may be added. */
export interface LeaseSnapshot {
  shared: string[];
  exclusive: string[];
  [state: string]: string[];
}

export interface LeaseView {
  snapshot(): LeaseSnapshot | Promise<LeaseSnapshot>;
  /** Demotes every exclusive lease to shared (flushing first); resolves with how many. */
  demoteAll(): Promise<number>;
  /** Releases every lease (flushing first); resolves with how many. */
  releaseAll(): Promise<number>;
}

export const LEASES_OFF = 'this server was built without a lease manager';

export const ADMIN_OFF = 'state-changing endpoints are off: no admin token is configured ([Agent] HTTPServerAdminTokenFile)';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The request's bearer token matches (compared in constant time, through digests of equal length). */
function authorized(req: FastifyRequest, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/** adminToken: the token POSTs must carry; undefined refuses every POST. */
export function addLeaseRoutes(http: HttpApp, leases: LeaseView | undefined, adminToken?: string): void {
  http.route('GET', '/leases', async (req, reply) => sendJson(req, reply, leases
    ? { enabled: true, ...(await leases.snapshot()) }
    : { enabled: false, reason: LEASES_OFF, shared: [], exclusive: [] }));
  const action = (name: 'demote' | 'release', run: (l: LeaseView) => Promise<number>) =>
    http.route('POST', `/leases/${name}`, async (req, reply) => {
      if (!leases) return sendJson(req, reply, errorBody(501, `${LEASES_OFF}: nothing to ${name}`), 501);
      if (adminToken === undefined) return sendJson(req, reply, errorBody(403, ADMIN_OFF), 403);
      if (!authorized(req, adminToken)) {
        reply.header('www-authenticate', 'Bearer realm="pfsagentd"');
        return sendJson(req, reply, errorBody(401, 'POST needs the admin token: Authorization: Bearer TOKEN (the content of [Agent] HTTPServerAdminTokenFile)'), 401);
      }
      return sendJson(req, reply, { [name === 'demote' ? 'demoted' : 'released']: await run(leases) });
    });
  action('demote', (l) => l.demoteAll());
  action('release', (l) => l.releaseAll());
}
