/**
 * Object stores: where log segments live. One small interface (types.ts) and backends that each
 * turn their native errors into PfsError codes at their own edge:
 * - local.ts   `file:///abs/dir`: one file per key in one directory (tests, single-host volumes);
 * - swift.ts   `swift://CONTAINER`: OpenStack Swift's v1 API; token and storage URL from the
 *              auth plug-in;
 * - s3.ts      `s3://BUCKET[?endpoint=URL&region=R]`: S3 through @aws-sdk/client-s3; keys (and
 *              optionally endpoint and region, which then win) from the auth plug-in.
 * Cross-cutting behaviour is a wrapper around a store, never a flag inside a backend:
 * retry.ts (p-retry per the Swift retry keys), faults.ts (tests). connectObjectStore (open.ts)
 * composes plug-in, backend and retries from settings. check-server-store.ts decides whether an
 * agent uses the store a volume server's Mount reply names (its own ObjectStoreURL, or a default
 * policy); owner-check.ts is the ownership rule for programs and directories a daemon trusts.
 * Object-store tokens (docs/SECURITY.md §4.1): auth-token.ts makes the agent's proof of access
 * (Swift token, S3 presigned HEAD bucket); token-check.ts is proxyfsd's check of one.
 * Every backend passes the same conformance suite (conformance.ts).
 * Invariants: put is atomic and durable when it resolves (a reader sees the old object, the
 * new one or none, never a part); delete of a missing key succeeds; list yields keys in
 * ascending byte order.
 */
import { PfsError } from '../errors/index.js';
import { openLocalStore } from './local.js';
import { parseStoreUrl } from './url.js';
import type { ObjectStore } from './types.js';

export type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';
export { openLocalStore } from './local.js';
export { withFaults, type FaultPlan, type FaultyStore, type StoreOp } from './faults.js';
export { withRetry, type RetryPolicy, type RetryHooks } from './retry.js';
export { withMetrics, type StoreObserver } from './metrics.js';
export { connectObjectStore, type StoreAccess, type ConnectedStore } from './open.js';
export { parseStoreUrl, type StoreLocation } from './url.js';
export { checkServerStore, describeStore, sameStore, type ServerStoreContext } from './check-server-store.js';
export { makeAuthToken, AUTH_TOKEN_PRESIGN_SECONDS } from './auth-token.js';
export { createTokenChecker, presignedRequestFor, type TokenChecker, type TokenVerdict } from './token-check.js';

/** The local store named by a file:// URL (create: make the directory). Others need connectObjectStore. */
export function openObjectStore(url: string, opts: { create?: boolean } = {}): ObjectStore {
  const where = parseStoreUrl(url);
  if (where.kind !== 'local') throw new PfsError('PFS_ERR_CONFIG', `${where.kind}:// stores need credentials: use connectObjectStore`);
  return openLocalStore(where.dir, opts);
}
