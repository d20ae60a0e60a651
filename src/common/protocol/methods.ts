/**
 * The RPC methods between pfsagentd and proxyfsd: names, parameters and results.
 * `MUTATING` lists the methods whose replies the server makes durable with the change itself,
 * so a resent request is answered from the reply table and never executed twice, even
 * across a server restart. `BLOCKING` lists the methods the server may hold (Lease until
 * granted, Lock with wait: true up to LOCK_WAIT_CAP_MS, GetLock too during the reclaim period
 * after a restart; Reclaim, whose eviction must outlive its failure); they are answered outside
 * the batch transaction and are idempotent instead of durable. `UpcallMap` lists the server -> agent
 * upcalls (best effort, re-sent by the server). DescribeVolume and RenewMount are neither: they
 * change nothing durable (RenewMount replaces a token held in memory) and may be repeated.
 */
import type {
  Attr, Cred, DirEntry, Extent, Ino, LeaseGrant, LeaseInterruptAction, LeaseRequest, LockConflict, LockKind, LockType,
  ObjectChecksums, StatVfs, Timespec,
} from './types.js';

export type TimeSet = Timespec | 'now';

export interface MethodMap {
  Ping: { params: Record<string, never>; result: { serverTime: Timespec } };
  /** Where the volume's objects live, before mounting: the agent needs it to make its authToken. */
  DescribeVolume: { params: { volume: string }; result: VolumeDescription };
  /** authToken: the agent's proof of access to the volume's store (docs/SECURITY.md §4.1); required for swift:// and s3:// volumes that check tokens. */
  Mount: { params: { volume: string; authToken?: string }; result: MountResult };
  /** A new authToken for a mount, after PFS_ERR_AUTH_TOKEN_REJECTED (or before an S3 presigned one expires); checked before the answer. */
  RenewMount: { params: { mountId: string; authToken: string }; result: Record<string, never> };
  Unmount: { params: { mountId: string }; result: Record<string, never> };

  /**
   * lease: a regular file may come with a lease granted at once (leased: its mode), its attributes
   * current under it; a directory with a directory lease (leased: 'shared'); and the answer may
   * come with a directory lease on the parent (parentLeased: the name may be kept until it breaks,
   * docs/LEASES.md §5).
   */
  Lookup: { params: { mountId: string; cred: Cred; parent: Ino; name: string; lease?: boolean }; result: Attr & { leased?: 'shared' | 'exclusive'; parentLeased?: boolean } };
  /** lease: a directory may come with a directory lease granted at once (leased: 'shared'). */
  GetAttr: { params: { mountId: string; cred: Cred; ino: Ino; lease?: boolean }; result: Attr & { leased?: 'shared' } };
  SetAttr: { params: SetAttrParams; result: Attr };
  Access: { params: { mountId: string; cred: Cred; ino: Ino; mask: number }; result: Record<string, never> };

  /**
   * lease: ask for an Exclusive lease on the file in the same call; `leased` in the result says
   * whether it was granted (always for a file this call made, unless a reclaim period is running).
   * With lease, these changes of names also answer the parent directory's attributes after the
   * change (parentAttr: the caller may keep them under its directory lease, docs/LEASES.md §5), and
   * Mkdir grants the new directory's lease to its maker (leased: 'shared').
   */
  Create: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number; flags: number; lease?: boolean }; result: Attr & { leased?: boolean; parentAttr?: Attr } };
  Mknod: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number; rdev: number; lease?: boolean }; result: Attr & { parentAttr?: Attr } };
  Mkdir: { params: { mountId: string; cred: Cred; parent: Ino; name: string; mode: number; umask: number; lease?: boolean }; result: Attr & { leased?: 'shared'; parentAttr?: Attr } };
  Symlink: { params: { mountId: string; cred: Cred; parent: Ino; name: string; target: string; lease?: boolean }; result: Attr & { parentAttr?: Attr } };
  Readlink: { params: { mountId: string; cred: Cred; ino: Ino }; result: { target: string } };
  Link: { params: { mountId: string; cred: Cred; ino: Ino; newParent: Ino; newName: string; lease?: boolean }; result: Attr & { parentAttr?: Attr } };
  /** changed: the attributes after the change of the regular file it unlinked; gone: that file, when it was destroyed (its leases with it). */
  Unlink: { params: { mountId: string; cred: Cred; parent: Ino; name: string; lease?: boolean }; result: { changed: Attr[]; gone: Ino[]; parentAttr?: Attr } };
  /** dirs: the directory removed (its directory leases went with it). */
  Rmdir: { params: { mountId: string; cred: Cred; parent: Ino; name: string; lease?: boolean }; result: { dirs?: Ino[]; parentAttr?: Attr } };
  /**
   * changed: the attributes after the change of the regular files it moved or replaced (those
   * still there); gone: those it destroyed; dirs: the directories it moved or replaced.
   */
  Rename: { params: { mountId: string; cred: Cred; parent: Ino; name: string; newParent: Ino; newName: string; flags: number }; result: { changed: Attr[]; gone: Ino[]; dirs?: Ino[] } };

  Open: { params: { mountId: string; cred: Cred; ino: Ino; flags: number }; result: Attr };
  Release: { params: { mountId: string; cred: Cred; ino: Ino }; result: Record<string, never> };
  ReadDir: { params: { mountId: string; cred: Cred; ino: Ino; cookie: number; maxEntries: number; plus: boolean }; result: { entries: DirEntry[]; eof: boolean } };
  StatVfs: { params: { mountId: string }; result: StatVfs };

  SetXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string; value: string /* base64 */; flags: number }; result: Record<string, never> };
  GetXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string }; result: { value: string /* base64 */ } };
  ListXattr: { params: { mountId: string; cred: Cred; ino: Ino }; result: { names: string[] } };
  RemoveXattr: { params: { mountId: string; cred: Cred; ino: Ino; name: string }; result: Record<string, never> };

  FetchExtentMapChunk: { params: { mountId: string; cred: Cred; ino: Ino; fileOffset: number; maxEntriesFrom: number; maxEntriesBefore: number }; result: ExtentMapChunk };
  ProvisionObject: { params: { mountId: string; count: number }; result: { objects: { objectId: number; key: string }[] } };
  Wrote: { params: WroteParams; result: Attr };
  /**
   * Ranges of a file whose write-back failed for good (the PUT or its Wrote): from now on they
   * read as EIO (extents in UNSTORED_OBJECT_ID) until rewritten or truncated away. Sent in the
   * inode's segment order with its Wrote calls; the size is not changed.
   */
  Unstored: { params: { mountId: string; cred: Cred; ino: Ino; ranges: { fileOffset: number; length: number }[] }; result: Attr };

  /** Blocks until granted (conflicting holders are interrupted, unresponsive ones evicted); demote and release answer at once. */
  Lease: { params: { mountId: string; ino: Ino; request: LeaseRequest }; result: { granted: LeaseGrant } };
  /** wait: true is held by the server until granted or LOCK_WAIT_CAP_MS passed (then granted: false; ask again). */
  Lock: { params: LockParams; result: LockResult };
  GetLock: { params: GetLockParams; result: { conflict?: LockConflict } };
  /**
   * After proxyfsd restarted (a new serverId in HELLO_OK), the mount claims the leases and locks
   * it held (docs/LEASES.md §8); `done` on the last call of the claim. A claim that cannot be
   * granted safely evicts the mount (PFS_ERR_MOUNT_EVICTED).
   */
  Reclaim: { params: ReclaimParams; result: Record<string, never> };
}

export interface ReclaimParams {
  mountId: string;
  leases: { ino: Ino; mode: 'shared' | 'exclusive' }[];
  locks: ReclaimedLock[];
  done: boolean;
}

/** A lock the mount held (LockParams without mountId and wait; type read or write). */
export interface ReclaimedLock {
  ino: Ino;
  owner: string;
  kind: LockKind;
  type: 'read' | 'write';
  start: number;
  end: number;
  pid: number;
}

/** Most leases or locks one Reclaim call carries (the agent splits a larger claim). */
export const RECLAIM_BATCH_MAX = 4096;

export interface LockParams {
  mountId: string;
  ino: Ino;
  /** The kernel's lock owner (posix) or open file (flock), as the agent names it; at most LOCK_OWNER_MAX bytes. */
  owner: string;
  kind: LockKind;
  type: LockType;
  start: number;
  /** Exclusive; -1 = to end of file. flock ignores the range. */
  end: number;
  wait: boolean;
  pid: number;
}

export type LockResult = { granted: true } | { granted: false; retryAfterMs: number };

export interface GetLockParams {
  mountId: string;
  ino: Ino;
  owner: string;
  kind: 'posix';
  type: 'read' | 'write';
  start: number;
  end: number;
}

/** Server -> agent upcalls (RPC frame type UPCALL): name -> params. Best effort; the server re-sends. */
export interface UpcallMap {
  /** Do what `action` requires for `ino`, then answer with Lease demote / release (docs/LEASES.md §2). */
  LeaseInterrupt: { ino: Ino; action: LeaseInterruptAction };
}
export type Upcall = keyof UpcallMap;
export type UpcallParams<U extends Upcall> = UpcallMap[U];
export const UPCALLS: readonly Upcall[] = ['LeaseInterrupt'];

export function isUpcall(name: unknown): name is Upcall {
  return typeof name === 'string' && (UPCALLS as readonly string[]).includes(name);
}

export interface VolumeDescription {
  /** As in MountResult. */
  objectStoreUrl: string;
  /** Whether Mount and RenewMount must carry an authToken ([Volume:NAME] CheckAuthTokens on a swift:// or s3:// volume). */
  authTokenRequired: boolean;
}

export interface MountResult {
  mountId: string;
  rootIno: Ino;
  /** Where the volume's log segments live, without credentials (file:///dir, swift://..., s3://...). */
  objectStoreUrl: string;
  /** Block size the agent must use for the CRC32 list it reports with Wrote. */
  checksumBlockSizeBytes: number;
  /**
   * The volume's ProvisionedObjectTTL: numbers from ProvisionObject stay valid while this
   * mount is live and expire this long after it ended. The agent uses a pooled number only
   * within half of it (docs/SEMANTICS.md, "Timeouts on each side").
   */
  provisionedObjectTtlMs: number;
  /**
   * The server's ReplyCacheTTL: a request resent later than this after it was first sent may
   * run twice, so an agent whose RetryRPCDeadlineIO is not below it refuses to mount.
   */
  replyCacheTtlMs: number;
  /** [Volume:NAME] AuthTokenCheckPeriod when tokens are checked (0: at Mount and RenewMount only); absent when they are not. */
  authTokenCheckPeriodMs?: number;
}

export interface SetAttrParams {
  mountId: string;
  cred: Cred;
  ino: Ino;
  mode?: number;          // permission bits (and S_ISUID/S_ISGID/S_ISVTX)
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

export interface ExtentMapChunk {
  /** Every byte in [rangeStart, rangeEnd) not covered by `extents` reads as zero. */
  rangeStart: number;
  rangeEnd: number;
  size: number;
  extents: Extent[];
  /** Checksums of every object that `extents` references. */
  objects: ObjectChecksums[];
}

export interface WroteParams {
  mountId: string;
  cred: Cred;
  ino: Ino;
  object: { objectId: number; sizeBytes: number; blockSizeBytes: number; crc32: number[] };
  extents: Extent[];      // objectId of each must equal object.objectId
  mtime: Timespec;
}

export type Method = keyof MethodMap;
export type Params<M extends Method> = MethodMap[M]['params'];
export type Result<M extends Method> = MethodMap[M]['result'];

export const METHODS: readonly Method[] = [
  'Ping', 'DescribeVolume', 'Mount', 'RenewMount', 'Unmount', 'Lookup', 'GetAttr', 'SetAttr', 'Access', 'Create', 'Mknod', 'Mkdir',
  'Symlink', 'Readlink', 'Link', 'Unlink', 'Rmdir', 'Rename', 'Open', 'Release', 'ReadDir', 'StatVfs',
  'SetXattr', 'GetXattr', 'ListXattr', 'RemoveXattr', 'FetchExtentMapChunk', 'ProvisionObject', 'Wrote',
  'Unstored', 'Lease', 'Lock', 'GetLock', 'Reclaim',
];

export const MUTATING: ReadonlySet<Method> = new Set<Method>([
  'Mount', 'Unmount', 'SetAttr', 'Create', 'Mknod', 'Mkdir', 'Symlink', 'Link', 'Unlink', 'Rmdir',
  'Rename', 'Open', 'Release', 'SetXattr', 'RemoveXattr', 'ProvisionObject', 'Wrote', 'Unstored',
]);

export const BLOCKING: ReadonlySet<Method> = new Set<Method>(['Lease', 'Lock', 'GetLock', 'Reclaim']);

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && (METHODS as readonly string[]).includes(name);
}
