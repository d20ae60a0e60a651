/**
 * Errors shared by both processes.
 *
 * - FsError carries a POSIX code name ('ENOENT', 'EEXIST', ...), as Node's own fs errors do.
 * - PfsError carries a PFS_ERR_* code for everything that is not a POSIX answer
 *   (bad config, RPC deadline, missing object, protocol violations).
 * Both cross the RPC boundary as a plain { code, message } (WireError). Callers match on
 * err.code, never on instanceof. Errno numbers live only in agent/fuse/errno.ts.
 * Every code is listed in docs/ERRORS.md; a test fails when one is missing.
 */

export const FS_ERROR_CODES = [
  'EPERM', 'ENOENT', 'EIO', 'ENXIO', 'E2BIG', 'EBADF', 'EAGAIN', 'ENOMEM', 'EACCES', 'EBUSY',
  'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENFILE', 'EMFILE', 'EFBIG',
  'ENOSPC', 'ESPIPE', 'EROFS', 'EMLINK', 'ERANGE', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS',
  'ENOTEMPTY', 'ELOOP', 'ENODATA', 'ENOTSUP', 'ETIMEDOUT', 'ESTALE', 'EDEADLK', 'EOVERFLOW',
  'ECONNABORTED',
] as const;
export type FsErrorCode = (typeof FS_ERROR_CODES)[number];

export const PFS_ERROR_CODES = [
  'PFS_ERR_CONFIG',            // a config file or override is invalid
  'PFS_ERR_RPC_DEADLINE',      // an RPC got no reply within its deadline
  'PFS_ERR_RPC_CLOSED',        // the RPC client was closed while the call was outstanding
  'PFS_ERR_RPC_PROTOCOL',      // a peer sent a malformed, oversize or unknown frame
  'PFS_ERR_RPC_REFUSED',       // the server does not serve this peer (uid, host) or this client ID (bound to another peer)
  'PFS_ERR_UNKNOWN_METHOD',    // the server has no such RPC method
  'PFS_ERR_BAD_REQUEST',       // RPC parameters failed validation
  'PFS_ERR_UNKNOWN_MOUNT',     // the mount ID is unknown (never mounted, or dropped after its grace period)
  'PFS_ERR_MOUNT_EVICTED',     // the mount was evicted (a lease interrupt unanswered, or a refused claim after a restart); mount again
  'PFS_ERR_STALE_OBJECT',      // a Wrote named an object number that is not writable (never provisioned, expired, dead); provision a new one and write again
  'PFS_ERR_LEASE_DENIED',      // a lease promotion was refused (another promotion waits); release, then ask for exclusive
  'PFS_ERR_LEASE_CONFLICT',    // a change to a regular file another mount holds a lease on (it caches the attributes); take the file Exclusive and call again
  'PFS_ERR_UNKNOWN_VOLUME',    // no such volume is served
  'PFS_ERR_VOLUME_NOT_AUTHORIZED', // the agent's certificate does not name this volume
  'PFS_ERR_VOLUME_NOT_FORMATTED', // the volume's metadata database has not been formatted
  'PFS_ERR_VOLUME_NOT_EMPTY',  // format refused: the volume already has data (use --force)
  'PFS_ERR_OBJECT_MISSING',    // an object store key does not exist
  'PFS_ERR_OBJECT_STORE',      // an object store request failed in a way worth retrying (5xx, timeout, transport)
  'PFS_ERR_OBJECT_STORE_REJECTED', // the object store refused a request for good (4xx other than 401/404/507)
  'PFS_ERR_OBJECT_STORE_FULL', // the object store is out of space or over quota (507, quota exceeded)
  'PFS_ERR_AUTH',              // the object store refused the credentials even after a renewal
  'PFS_ERR_AUTH_TOKEN_REJECTED', // proxyfsd found the mount's object-store token missing or refused by the store; renew it (RenewMount)
  'PFS_ERR_PLUGIN',            // the auth plug-in failed (exited, bad output, no answer in time)
  'PFS_ERR_CHECKSUM',          // bytes read from the object store do not match their CRC32
  'PFS_ERR_INTERNAL',          // a bug: an invariant did not hold
] as const;
export type PfsErrorCode = (typeof PFS_ERROR_CODES)[number];

export interface WireError {
  code: string;
  message: string;
}

export class FsError extends Error {
  readonly code: FsErrorCode;
  constructor(code: FsErrorCode, message?: string) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'FsError';
    this.code = code;
  }
}

export class PfsError extends Error {
  readonly code: PfsErrorCode;
  constructor(code: PfsErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'PfsError';
    this.code = code;
  }
}

const fsCodes = new Set<string>(FS_ERROR_CODES);
const pfsCodes = new Set<string>(PFS_ERROR_CODES);

export function isFsErrorCode(code: unknown): code is FsErrorCode {
  return typeof code === 'string' && fsCodes.has(code);
}

export function isPfsErrorCode(code: unknown): code is PfsErrorCode {
  return typeof code === 'string' && pfsCodes.has(code);
}

/** The code of any thrown value, or undefined when it carries none of ours. */
export function errorCode(err: unknown): FsErrorCode | PfsErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return isFsErrorCode(code) || isPfsErrorCode(code) ? code : undefined;
}

/** Turns anything thrown into the wire shape. Unknown errors become PFS_ERR_INTERNAL. */
export function toWireError(err: unknown): WireError {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return { code: code ?? 'PFS_ERR_INTERNAL', message };
}

/** Rebuilds a typed error from the wire shape; an unknown code becomes PFS_ERR_INTERNAL. */
export function fromWireError(wire: WireError): FsError | PfsError {
  if (isFsErrorCode(wire.code)) {
    const err = new FsError(wire.code);
    err.message = wire.message;
    return err;
  }
  if (isPfsErrorCode(wire.code)) {
    const err = new PfsError(wire.code, '');
    err.message = wire.message;
    return err;
  }
  return new PfsError('PFS_ERR_INTERNAL', `unknown error code ${JSON.stringify(wire.code)}: ${wire.message}`);
}
