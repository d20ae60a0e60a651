/**
 * GET /leases, POST /leases/demote, POST /leases/release. The lease manager (agent/lease) plugs
 * in through LeaseView (main.ts always gives it); a server built without one (tests) says leases
 * are off and the POSTs answer 501, never a fake success.
 */
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

export function addLeaseRoutes(http: HttpApp, leases: LeaseView | undefined): void {
  http.route('GET', '/leases', async (req, reply) => sendJson(req, reply, leases
    ? { enabled: true, ...(await leases.snapshot()) }
    : { enabled: false, reason: LEASES_OFF, shared: [], exclusive: [] }));
  const action = (name: 'demote' | 'release', run: (l: LeaseView) => Promise<number>) =>
    http.route('POST', `/leases/${name}`, async (req, reply) => {
      if (!leases) return sendJson(req, reply, errorBody(501, `${LEASES_OFF}: nothing to ${name}`), 501);
      return sendJson(req, reply, { [name === 'demote' ? 'demoted' : 'released']: await run(leases) });
    });
  action('demote', (l) => l.demoteAll());
  action('release', (l) => l.releaseAll());
}
