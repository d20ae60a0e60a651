// The inode-based session's handler table (prototype). Every request names inodes by their
// kernel node id, which the filesystem chooses in its entry replies (pfs: the volume's inode
// number; the root is node id 1, FUSE_ROOT_ID). Handlers answer through their LlReply, exactly
// once, at any time; they never run on a FUSE thread.

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
  atime: TimeSpec;
  mtime: TimeSpec;
  ctime: TimeSpec;
}

/** How long the kernel may keep a reply (seconds; 0 = ask again every time). */
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
  keepCache?: boolean;
}

export interface LlDirEntry {
  name: string;
  ino: number;
  mode: number;
}

/** The answer to one request. Codes are positive errno names' numbers (constants.errno.ENOENT). */
export interface LlReply {
  /** uid, gid, pid and umask of the caller (valid until the reply). */
  caller(): { uid: number; gid: number; pid: number; umask: number };
  err(errno: number): void;
  ok(): void;
  entry(attr: LlAttr, timeouts: LlTimeouts): void;
  /** A negative entry the kernel may keep for timeouts.entryS. */
  noEntry(timeouts: LlTimeouts): void;
  attr(attr: LlAttr, attrTimeoutS: number): void;
  open(fh: number, opts?: LlOpenOptions): void;
  create(attr: LlAttr, timeouts: LlTimeouts, fh: number, opts?: LlOpenOptions): void;
  buf(data: Buffer): void;
  written(count: number): void;
  /** Entries from directory offset `offset` on; those that fit the request's size are sent. */
  dir(entries: LlDirEntry[], offset: number): void;
}

export interface LlOps {
  lookup(parent: number, name: string, r: LlReply): void;
  /** The kernel dropped nlookup references to ino (no reply). */
  forget(ino: number, nlookup: number): void;
  getattr(ino: number, fh: number | undefined, r: LlReply): void;
  setattr?(ino: number, set: LlSetAttr, fh: number | undefined, r: LlReply): void;
  opendir?(ino: number, flags: number, r: LlReply): void;
  readdir(ino: number, fh: number, offset: number, size: number, r: LlReply): void;
  releasedir?(ino: number, fh: number, r: LlReply): void;
  open(ino: number, flags: number, r: LlReply): void;
  read(ino: number, fh: number, offset: number, size: number, r: LlReply): void;
  /** data is this request's own copy. */
  write(ino: number, fh: number, offset: number, data: Buffer, r: LlReply): void;
  flush?(ino: number, fh: number, r: LlReply): void;
  release?(ino: number, fh: number, flags: number, r: LlReply): void;
  fsync?(ino: number, fh: number, datasync: boolean, r: LlReply): void;
  create?(parent: number, name: string, mode: number, flags: number, r: LlReply): void;
  mkdir?(parent: number, name: string, mode: number, r: LlReply): void;
  link?(ino: number, newParent: number, newName: string, r: LlReply): void;
  unlink?(parent: number, name: string, r: LlReply): void;
}
