// The inode-based session's handler table. Every request names inodes by their kernel node id,
// which the filesystem chooses in its entry replies (pfs: the volume's inode number; the root is
// node id 1, FUSE_ROOT_ID). Handlers answer through their LlReply, exactly once, at any time;
// they never run on a FUSE thread. A handler not in the table is answered ENOSYS by the session
// (FORGET needs none; OPENDIR/RELEASEDIR/FLUSH/RELEASE/FSYNC/FSYNCDIR default to success).

import type { TimeSpec } from '../caller-context.js';

export const FUSE_ROOT_ID = 1;

export interface LlAttr {
  ino: number;
  mode: number; // with the type bits (S_IFREG | 0o644)
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  rdev?: number;
  blocks?: number;
  /** st_blksize; default 4096. */
  blksize?: number;
  atime: TimeSpec;
  mtime: TimeSpec;
  ctime: TimeSpec;
}

/** How long the kernel may keep a reply (seconds, fractions allowed; 0 = ask again every time). */
export interface LlTimeouts {
  attrS: number;
  entryS: number;
}

/** setattr: the fields the caller changes (FUSE_SET_ATTR_*), times exact to the ns or 'now'. */
export interface LlSetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSpec | 'now';
  mtime?: TimeSpec | 'now';
}

export interface LlOpenOptions {
  directIo?: boolean;
  /** FOPEN_KEEP_CACHE: the kernel keeps the file's pages from before this open. */
  keepCache?: boolean;
}

export interface LlDirEntry {
  name: string;
  ino: number;
  mode: number;
  /**
   * The directory offset after this entry: the kernel passes it to the next readdir to resume
   * here (pfs: the entry's stable readdir cookie). Default: the reply's offset + i + 1.
   */
  off?: number;
}

/** A READDIRPLUS entry: the name with its entry reply (each counts one kernel lookup of ino, except '.' and '..'). */
export interface LlDirPlusEntry {
  name: string;
  attr: LlAttr;
  timeouts: LlTimeouts;
  /** As LlDirEntry.off. */
  off?: number;
}

/** The statfs reply (struct statvfs; counts are 64-bit in the kernel protocol). */
export interface LlStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** The caller of a request: uid, gid, pid, umask (valid until the reply). */
export interface LlCaller {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

export type LlLockType = 'read' | 'write' | 'unlock';

/** A byte-range lock as the VFS speaks it: [start, end), end -1 = to end of file. */
export interface LlLock {
  type: LlLockType;
  start: number;
  end: number;
  /** The locking process (0 when unknown, remote, or an unlock). */
  pid: number;
}

/** The answer to one request. Codes are positive errno numbers (constants.errno.ENOENT). */
export interface LlReply {
  /** The caller (read from libfuse's request at dispatch). */
  caller(): LlCaller;
  /**
   * Aborted when the kernel sends FUSE_INTERRUPT for this request (the caller got a signal): a
   * handler that waits (setlkw, flock, a long RPC) stops and answers EINTR. Created on first use.
   */
  readonly signal: AbortSignal;
  err(errno: number): void;
  ok(): void;
  entry(attr: LlAttr, timeouts: LlTimeouts): void;
  /** A negative entry the kernel may keep for timeouts.entryS. */
  noEntry(timeouts: LlTimeouts): void;
  attr(attr: LlAttr, attrTimeoutS: number): void;
  readlink(target: string): void;
  open(fh: number, opts?: LlOpenOptions): void;
  create(attr: LlAttr, timeouts: LlTimeouts, fh: number, opts?: LlOpenOptions): void;
  buf(data: Buffer): void;
  written(count: number): void;
  statfs(s: LlStatfs): void;
  /** getxattr: the value; the session answers a size probe (size 0) with its length and ERANGE when it does not fit. */
  xattr(value: Buffer): void;
  /** listxattr: the names; encoded, size-probed and ERANGE-checked by the session. */
  xattrNames(names: string[]): void;
  /** getlk: the conflicting lock, or undefined for none (answered as F_UNLCK). */
  lock(conflict: LlLock | undefined): void;
  /**
   * readdir: entries from directory offset `offset` on (entry i resumes at its `off`, default
   * offset + i + 1); those that fit the request's size are sent, and the session reports how many.
   */
  dir(entries: LlDirEntry[], offset: number): number;
  /**
   * readdirplus: the same, with each entry's attributes and timeouts; returns how many were
   * sent: the filesystem counts a kernel lookup only for those (not for '.' and '..').
   */
  dirPlus(entries: LlDirPlusEntry[], offset: number): number;
}

export interface LlOps {
  lookup(parent: number, name: string, r: LlReply): void;
  /** The kernel dropped nlookup references to ino (no reply). */
  forget(ino: number, nlookup: number): void;
  getattr(ino: number, fh: number | undefined, r: LlReply): void;
  setattr?(ino: number, set: LlSetAttr, fh: number | undefined, r: LlReply): void;
  readlink?(ino: number, r: LlReply): void;
  mknod?(parent: number, name: string, mode: number, rdev: number, r: LlReply): void;
  mkdir?(parent: number, name: string, mode: number, r: LlReply): void;
  unlink?(parent: number, name: string, r: LlReply): void;
  rmdir?(parent: number, name: string, r: LlReply): void;
  symlink?(target: string, parent: number, name: string, r: LlReply): void;
  rename?(parent: number, name: string, newParent: number, newName: string, r: LlReply): void;
  link?(ino: number, newParent: number, newName: string, r: LlReply): void;
  open?(ino: number, flags: number, r: LlReply): void;
  read?(ino: number, fh: number, offset: number, size: number, r: LlReply): void;
  /**
   * data is valid until the request is answered: the session reuses its memory for a later
   * WRITE after that (a pool of payload buffers, docs/FUSE-BINDING.md 8.3), so a handler copies
   * what it keeps beyond its reply.
   */
  write?(ino: number, fh: number, offset: number, data: Buffer, r: LlReply): void;
  /**
   * close(2) of one descriptor; lockOwner: the kernel's lock owner (decimal string, fi->lock_owner).
   * libfuse's low-level API leaves it to the filesystem to drop that owner's POSIX locks here.
   */
  flush?(ino: number, fh: number, lockOwner: string, r: LlReply): void;
  /**
   * The last close of the open file description. flockRelease (fi->flock_release,
   * FUSE_RELEASE_FLOCK_UNLOCK): the description used flock(2), whose lock (owner lockOwner) the
   * filesystem must drop now.
   */
  release?(ino: number, fh: number, flags: number, flockRelease: boolean, lockOwner: string, r: LlReply): void;
  fsync?(ino: number, fh: number, datasync: boolean, r: LlReply): void;
  opendir?(ino: number, flags: number, r: LlReply): void;
  readdir?(ino: number, fh: number, offset: number, size: number, r: LlReply): void;
  /** Present (and ReadDirPlus asked for at mount): the kernel sends READDIRPLUS instead of READDIR. */
  readdirplus?(ino: number, fh: number, offset: number, size: number, r: LlReply): void;
  releasedir?(ino: number, fh: number, r: LlReply): void;
  fsyncdir?(ino: number, fh: number, datasync: boolean, r: LlReply): void;
  statfs?(ino: number, r: LlReply): void;
  setxattr?(ino: number, name: string, value: Buffer, flags: number, r: LlReply): void;
  getxattr?(ino: number, name: string, r: LlReply): void;
  listxattr?(ino: number, r: LlReply): void;
  removexattr?(ino: number, name: string, r: LlReply): void;
  access?(ino: number, mask: number, r: LlReply): void;
  create?(parent: number, name: string, mode: number, flags: number, r: LlReply): void;
  /** fcntl F_GETLK; owner: the kernel's lock owner (decimal string). */
  getlk?(ino: number, fh: number, owner: string, lock: LlLock, r: LlReply): void;
  /**
   * fcntl F_SETLK (wait false) / F_SETLKW (wait true); a wait ends with EINTR when r.signal aborts.
   * closing: libfuse's unlock at close(2) for an owner that locked the file (release all its locks).
   */
  setlk?(ino: number, fh: number, owner: string, lock: LlLock, wait: boolean, closing: boolean, r: LlReply): void;
  /** flock(2): type read (LOCK_SH), write (LOCK_EX), unlock; wait false for LOCK_NB. */
  flock?(ino: number, fh: number, owner: string, type: LlLockType, wait: boolean, closing: boolean, r: LlReply): void;
}
