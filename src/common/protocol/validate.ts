/**
 * Runtime validation of RPC parameters: every request is checked against its method's shape
 * before it reaches the volume server's logic, so random or malformed input is answered
 * with PFS_ERR_BAD_REQUEST instead of reaching SQL or arithmetic.
 */
import { PfsError } from '../errors/index.js';
import { RECLAIM_BATCH_MAX, type Method, type Params, type Upcall, type UpcallParams } from './methods.js';
import { LOCK_OWNER_MAX } from './types.js';

type Check = (v: unknown, path: string) => void;

function bad(path: string, what: string): never {
  throw new PfsError('PFS_ERR_BAD_REQUEST', `${path}: ${what}`);
}

const uint: Check = (v, p) => { if (!Number.isSafeInteger(v) || (v as number) < 0) bad(p, 'expected a non-negative integer'); };
const u32: Check = (v, p) => { uint(v, p); if ((v as number) > 0xffffffff) bad(p, 'expected a 32-bit unsigned integer'); };
const ino: Check = (v, p) => { uint(v, p); if ((v as number) < 1) bad(p, 'expected an inode number >= 1'); };
const bool: Check = (v, p) => { if (typeof v !== 'boolean') bad(p, 'expected a boolean'); };
const str = (maxBytes: number): Check => (v, p) => {
  if (typeof v !== 'string') bad(p, 'expected a string');
  if (Buffer.byteLength(v) > maxBytes) bad(p, `longer than ${maxBytes} bytes`);
};
/** A name is validated for length by the namespace (ENAMETOOLONG); here only its type and a sanity cap. */
const name: Check = str(64 * 1024);
const base64: Check = (v, p) => {
  str(1 << 20)(v, p);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v as string)) bad(p, 'expected base64');
};
const timespec: Check = (v, p) => {
  const t = object({ sec: (x, q) => { if (!Number.isSafeInteger(x)) bad(q, 'expected an integer'); }, nsec: (x, q) => { uint(x, q); if ((x as number) >= 1e9) bad(q, 'expected < 1e9'); } })
  t(v, p);
};
const timeSet: Check = (v, p) => { if (v !== 'now') timespec(v, p); };
const optional = (c: Check): Check => (v, p) => { if (v !== undefined) c(v, p); };
const arrayOf = (c: Check, max: number): Check => (v, p) => {
  if (!Array.isArray(v)) bad(p, 'expected an array');
  if (v.length > max) bad(p, `more than ${max} items`);
  v.forEach((x, i) => c(x, `${p}[${i}]`));
};
function object(fields: Record<string, Check>): Check {
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(p, 'expected an object');
    // Own keys only: `in` would take constructor, toString, __proto__ ... (Object.prototype's) for fields.
    for (const k of Object.keys(v)) if (!Object.hasOwn(fields, k)) bad(`${p}.${k}`, 'unknown field');
    for (const [k, c] of Object.entries(fields)) c((v as Record<string, unknown>)[k], `${p}.${k}`);
  };
}
const cred = object({ uid: u32, gid: u32, groups: arrayOf(u32, 65536) });
const mountId = str(128);
/** A Swift token or an S3 presigned URL (docs/SECURITY.md §4.1); never echoed in an error. */
const authToken = str(16 * 1024);
const oneOf = (...values: string[]): Check => (v, p) => { if (typeof v !== 'string' || !values.includes(v)) bad(p, `expected one of ${values.join(', ')}`); };
/** A lock range end: -1 (to EOF) or a non-negative integer; rangeOf checks it against start. */
const rangeEnd: Check = (v, p) => { if (v !== -1) uint(v, p); };
const owner = str(LOCK_OWNER_MAX);
/** Adds the range rule to a lock shape: end is -1 or greater than start. */
const withRange = (c: Check): Check => (v, p) => {
  c(v, p);
  const { start, end } = v as { start: number; end: number };
  if (end !== -1 && end <= start) bad(`${p}.end`, 'expected -1 (to end of file) or an end greater than start');
};
const extent = object({ fileOffset: uint, length: uint, objectId: uint, objectOffset: uint });

const SHAPES: { [M in Method]: Check } = {
  Ping: object({}),
  DescribeVolume: object({ volume: str(1024) }),
  Mount: object({ volume: str(1024), authToken: optional(authToken) }),
  RenewMount: object({ mountId, authToken }),
  Unmount: object({ mountId }),
  Lookup: object({ mountId, cred, parent: ino, name, lease: optional(bool) }),
  GetAttr: object({ mountId, cred, ino, lease: optional(bool) }),
  SetAttr: object({ mountId, cred, ino, mode: optional(u32), uid: optional(u32), gid: optional(u32), size: optional(uint), atime: optional(timeSet), mtime: optional(timeSet) }),
  Access: object({ mountId, cred, ino, mask: u32 }),
  Create: object({ mountId, cred, parent: ino, name, mode: u32, umask: u32, flags: u32, lease: optional(bool) }),
  Mknod: object({ mountId, cred, parent: ino, name, mode: u32, umask: u32, rdev: u32, lease: optional(bool) }),
  Mkdir: object({ mountId, cred, parent: ino, name, mode: u32, umask: u32, lease: optional(bool) }),
  Symlink: object({ mountId, cred, parent: ino, name, target: str(64 * 1024), lease: optional(bool) }),
  Readlink: object({ mountId, cred, ino }),
  Link: object({ mountId, cred, ino, newParent: ino, newName: name, lease: optional(bool) }),
  Unlink: object({ mountId, cred, parent: ino, name, lease: optional(bool) }),
  Rmdir: object({ mountId, cred, parent: ino, name, lease: optional(bool) }),
  Rename: object({ mountId, cred, parent: ino, name, newParent: ino, newName: name, flags: u32 }),
  Open: object({ mountId, cred, ino, flags: u32 }),
  Release: object({ mountId, cred, ino }),
  ReadDir: object({ mountId, cred, ino, cookie: uint, maxEntries: u32, plus: bool }),
  StatVfs: object({ mountId }),
  SetXattr: object({ mountId, cred, ino, name, value: base64, flags: u32 }),
  GetXattr: object({ mountId, cred, ino, name }),
  ListXattr: object({ mountId, cred, ino }),
  RemoveXattr: object({ mountId, cred, ino, name }),
  FetchExtentMapChunk: object({ mountId, cred, ino, fileOffset: uint, maxEntriesFrom: u32, maxEntriesBefore: u32 }),
  ProvisionObject: object({ mountId, count: u32 }),
  Wrote: object({
    mountId, cred, ino,
    object: object({ objectId: uint, sizeBytes: uint, blockSizeBytes: u32, crc32: arrayOf(u32, 1 << 20) }),
    extents: arrayOf(extent, 1 << 16),
    mtime: timespec,
  }),
  Unstored: object({ mountId, cred, ino, ranges: arrayOf(object({ fileOffset: uint, length: uint }), 1 << 16) }),
  Lease: object({ mountId, ino, request: oneOf('shared', 'promote', 'exclusive', 'demote', 'release') }),
  Lock: withRange(object({
    mountId, ino, owner, kind: oneOf('posix', 'flock'), type: oneOf('read', 'write', 'unlock'),
    start: uint, end: rangeEnd, wait: bool, pid: u32,
  })),
  GetLock: withRange(object({ mountId, ino, owner, kind: oneOf('posix'), type: oneOf('read', 'write'), start: uint, end: rangeEnd })),
  Reclaim: object({
    mountId,
    leases: arrayOf(object({ ino, mode: oneOf('shared', 'exclusive') }), RECLAIM_BATCH_MAX),
    locks: arrayOf(withRange(object({ ino, owner, kind: oneOf('posix', 'flock'), type: oneOf('read', 'write'), start: uint, end: rangeEnd, pid: u32 })), RECLAIM_BATCH_MAX),
    done: bool,
  }),
};

const UPCALL_SHAPES: { [U in Upcall]: Check } = {
  LeaseInterrupt: object({ ino, action: oneOf('demote', 'release') }),
};

/** Throws PFS_ERR_BAD_REQUEST unless `params` has exactly the shape `method` takes. */
export function validateParams<M extends Method>(method: M, params: unknown): asserts params is Params<M> {
  SHAPES[method](params, 'params');
}

/** Throws PFS_ERR_BAD_REQUEST unless `params` has exactly the shape of upcall `method` (for the agent's side). */
export function validateUpcall<U extends Upcall>(method: U, params: unknown): asserts params is UpcallParams<U> {
  UPCALL_SHAPES[method](params, 'params');
}
