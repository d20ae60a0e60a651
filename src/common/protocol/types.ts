/** Value types that cross the RPC boundary. All are plain JSON. */

/** An inode number. The root directory of every volume is ROOT_INO. */
export type Ino = number;
export const ROOT_INO: Ino = 1;

/** A point in time with nanosecond resolution (JSON cannot carry int64 nanoseconds exactly). */
export interface Timespec {
  sec: number;
  nsec: number;
}

/** File type bits of st_mode, as in <sys/stat.h>. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

/** Longest name of one directory entry, in bytes of UTF-8. */
export const NAME_MAX = 255;
/** Longest symlink target (and path), in bytes, including nothing for the NUL. */
export const PATH_MAX = 4095;
/** Largest xattr value and name sizes, as Linux. */
export const XATTR_SIZE_MAX = 65536;
export const XATTR_NAME_MAX = 255;

/** Access mask bits of access(2). */
export const R_OK = 4;
export const W_OK = 2;
export const X_OK = 1;
export const F_OK = 0;

/** The caller of an operation, as FUSE reports it. groups are the supplementary groups. */
export interface Cred {
  uid: number;
  gid: number;
  groups: number[];
}

export interface Attr {
  ino: Ino;
  mode: number;     // type bits | permission bits
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;     // bytes; 0 for directories
  blocks: number;   // 512-byte blocks actually referenced
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
}

export interface DirEntry {
  name: string;
  ino: Ino;
  mode: number;     // type bits only are guaranteed; full mode when attrs are requested
  cookie: number;   // resume readdir after this entry by passing it as `cookie`
  attr?: Attr;
}

/**
 * The object number of an extent whose bytes were never stored: its write-back failed for good
 * (`Unstored`). Such an extent reads as EIO, never as zeros or older data; no object has it.
 */
export const UNSTORED_OBJECT_ID = 0;

/** One piece of a file: fileOffset..fileOffset+length read from object at objectOffset (or UNSTORED_OBJECT_ID). */
export interface Extent {
  fileOffset: number;
  length: number;
  objectId: number;
  objectOffset: number;
}

/** Checksums of one log-segment object: CRC32 of each blockSizeBytes block (the last may be short). */
export interface ObjectChecksums {
  objectId: number;
  key: string;
  sizeBytes: number;
  blockSizeBytes: number;
  crc32: number[];
}

export interface StatVfs {
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

/** Open flags the server cares about (Linux values). */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;

/** rename(2) flags (renameat2). */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** Leases (docs/LEASES.md): what a mount asks for, and what it holds after the answer. */
export type LeaseRequest = 'shared' | 'promote' | 'exclusive' | 'demote' | 'release';
export type LeaseGrant = 'none' | 'shared' | 'exclusive';
/** What a LeaseInterrupt upcall asks the holder to do before it answers with Lease demote / release. */
export type LeaseInterruptAction = 'demote' | 'release';

/** Locks (docs/LEASES.md §6). Ranges are [start, end) in bytes; end -1 means to end of file. */
export type LockKind = 'posix' | 'flock';
export type LockType = 'read' | 'write' | 'unlock';
/** The longest lock owner string, in bytes of UTF-8. */
export const LOCK_OWNER_MAX = 128;
/** The longest the server holds a blocking Lock before it answers granted: false (the agent asks again). */
export const LOCK_WAIT_CAP_MS = 10_000;

/** A lock that conflicts with a GetLock request: its type, range (end -1 = to EOF) and the pid that took it. */
export interface LockConflict {
  type: 'read' | 'write';
  start: number;
  end: number;
  pid: number;
}
