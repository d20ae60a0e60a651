/**
 * Object stores: where log segments live. One small interface (types.ts) and backends that each
 * turn their native errors into PfsError codes at their own edge:
 * - local.ts   `file:///abs/dir`: one file per key in one directory (tests, single-host volumes);
 * - swift://, s3:// come later; openObjectStore answers PFS_ERR_CONFIG for them until then.
 * Cross-cutting behaviour (fault injection now; retry and auth renewal later) is a wrapper
 * around a store, never a flag inside a backend: faults.ts.
 * Every backend passes the same conformance suite (conformance.ts).
 * Invariants: put is atomic and durable when it resolves (a reader sees the old object, the
 * new one or none, never a part); delete of a missing key succeeds; list yields keys in
 * ascending byte order.
 */
import { fileURLToPath } from 'node:url';
import { PfsError } from '../errors/index.js';
import { openLocalStore } from './local.js';
import type { ObjectStore } from './types.js';

export type { ByteRange, CallOpts, ObjectInfo, ObjectStore } from './types.js';
export { openLocalStore } from './local.js';
export { withFaults, type FaultPlan, type FaultyStore, type StoreOp } from './faults.js';

/**
 * The store named by `url`. file:///abs/dir needs an existing directory unless `create`
 * (then it is made, with parents).
 */
export function openObjectStore(url: string, opts: { create?: boolean } = {}): ObjectStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', 'the object store URL is not a URL (expected file:///dir, swift://... or s3://...)', { cause: err });
  }
  // Never echo credentials a URL may carry.
  const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  switch (parsed.protocol) {
    case 'file:':
      if (parsed.host !== '' && parsed.host !== 'localhost') throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: file URLs must name a local absolute directory (file:///dir)`);
      return openLocalStore(fileURLToPath(parsed), opts);
    case 'swift:':
    case 's3:':
      throw new PfsError('PFS_ERR_CONFIG', `${parsed.protocol.slice(0, -1)}:// backend not implemented yet (object store URL ${shown}); use file:///dir`);
    default:
      throw new PfsError('PFS_ERR_CONFIG', `object store URL ${shown}: unsupported scheme ${parsed.protocol} (expected file:, swift: or s3:)`);
  }
}
