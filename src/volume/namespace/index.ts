/**
 * The POSIX namespace of a volume, written once over the metadata store: names, link counts,
 * permissions, rename, open-file lifetime, readdir cookies, xattrs.
 *
 * Every function is synchronous and runs inside a transaction its caller opened; an operation
 * that throws an FsError leaves its changes to be rolled back with that transaction.
 *
 * Parts:
 *   names.ts        entry-name and symlink-target validation
 *   permissions.ts  Linux permission rules (owner/group/other, root, sticky, set-id clearing)
 *   inode-store.ts  prepared statements over inodes, dirents, opens (no rules)
 *   context.ts      shared context and inode lifetime (drop a link, destroy)
 *   entries.ts      lookup, mknod, mkdir, symlink, readlink, link, unlink, rmdir
 *   rename.ts       rename, RENAME_NOREPLACE, RENAME_EXCHANGE
 *   attrs.ts        getattr, access, setattr, noteWrite
 *   opens.ts        create, open, release, requireOpen, dropMount
 *   readdir.ts      readdir with stable cookies, statvfs
 *   xattrs.ts       extended attributes
 *   check.ts        fsck of all the invariants below
 *
 * Invariants:
 *   - Inode numbers come from the next_ino counter and are never reused; the root is ROOT_INO.
 *   - A directory is named by exactly one entry (none for the root); its parent ('..') is the
 *     directory holding that entry; nlink = 2 + number of subdirectories.
 *   - A non-directory's nlink equals the number of entries naming it. One with nlink 0 exists
 *     only while some mount holds it open (regular files only); the last release destroys it.
 *   - Each entry keeps the readdir cookie it was given when made ('.' = 1, '..' = 2, then the
 *     directory's next_cookie counter), so listings resume exactly across concurrent changes.
 *   - ctime changes with every inode change; a directory's mtime and ctime with every entry change.
 *   - atime is changed only by setattr (reads and readdir do not update it).
 */
import { PfsError } from '../../common/errors/index.js';
import { ROOT_INO, S_IFDIR } from '../../common/protocol/index.js';
import type { Attr, Cred, DirEntry, Ino, SetAttrParams, StatVfs, Timespec } from '../../common/protocol/index.js';
import { SCHEMA_VERSION, toNs } from '../metadata/index.js';
import type { Metadata } from '../metadata/index.js';
import { access, getattr, noteWrite, setattr } from './attrs.js';
import { check } from './check.js';
import { makeCtx, type FileData, type VolumeLimits } from './context.js';
import { link, lookup, mkdir, mknod, readlink, rmdir, symlink, unlink } from './entries.js';
import { createStore } from './inode-store.js';
import { create, dropMount, open, release, requireOpen } from './opens.js';
import { readdir, statvfs } from './readdir.js';
import { rename } from './rename.js';
import { createXattrOps } from './xattrs.js';

export type { FileData, VolumeLimits } from './context.js';
export { LINK_MAX } from './context.js';

export interface NamespaceOptions {
  now: () => Timespec;
  fileData: FileData;
  limits?: VolumeLimits;
}

export interface Namespace {
  lookup(cred: Cred, parent: Ino, name: string): Attr;
  getattr(ino: Ino): Attr;
  setattr(p: Omit<SetAttrParams, 'mountId'>): Attr;
  access(cred: Cred, ino: Ino, mask: number): void;
  create(mountId: string, cred: Cred, parent: Ino, name: string, mode: number, umask: number, flags: number): Attr;
  mknod(cred: Cred, parent: Ino, name: string, mode: number, umask: number, rdev: number): Attr;
  mkdir(cred: Cred, parent: Ino, name: string, mode: number, umask: number): Attr;
  symlink(cred: Cred, parent: Ino, name: string, target: string): Attr;
  readlink(ino: Ino): string;
  link(cred: Cred, ino: Ino, newParent: Ino, newName: string): Attr;
  unlink(cred: Cred, parent: Ino, name: string): void;
  rmdir(cred: Cred, parent: Ino, name: string): void;
  rename(cred: Cred, parent: Ino, name: string, newParent: Ino, newName: string, flags: number): void;
  open(mountId: string, cred: Cred, ino: Ino, flags: number): Attr;
  release(mountId: string, ino: Ino): void;
  /** Throws EBADF unless the mount holds the regular file ino open (extent-map calls, docs/SECURITY.md §4). */
  requireOpen(mountId: string, ino: Ino): void;
  readdir(cred: Cred, ino: Ino, cookie: number, maxEntries: number, plus: boolean): { entries: DirEntry[]; eof: boolean };
  statvfs(): StatVfs;
  setxattr(cred: Cred, ino: Ino, name: string, value: Buffer, flags: number): void;
  getxattr(cred: Cred, ino: Ino, name: string): Buffer;
  listxattr(cred: Cred, ino: Ino): string[];
  removexattr(cred: Cred, ino: Ino, name: string): void;
  noteWrite(ino: Ino, endOffset: number, mtime: Timespec): Attr;
  dropMount(mountId: string): void;
  check(): string[];
}

/**
 * Makes the root directory (ROOT_INO) of an empty volume and sets next_ino and schema_version.
 * Refuses (PFS_ERR_VOLUME_NOT_EMPTY) when any inode exists.
 */
export function formatNamespace(md: Metadata, root: { uid: number; gid: number; mode: number }, now: Timespec): void {
  md.transaction(() => {
    if (md.db.prepare('SELECT 1 FROM inodes LIMIT 1').get() !== undefined) {
      throw new PfsError('PFS_ERR_VOLUME_NOT_EMPTY', `metadata database ${md.path} already has inodes`);
    }
    const t = toNs(now);
    md.db.prepare(`INSERT INTO inodes (ino, mode, nlink, uid, gid, rdev, size, atime_ns, mtime_ns, ctime_ns, crtime_ns, target, next_cookie)
      VALUES (?, ?, 2, ?, ?, 0, 0, ?, ?, ?, ?, NULL, 3)`).run(ROOT_INO, S_IFDIR | (root.mode & 0o7777), root.uid, root.gid, t, t, t, t);
    md.setMeta('next_ino', String(ROOT_INO + 1));
    md.setMeta('schema_version', String(SCHEMA_VERSION));
  });
}

export function createNamespace(md: Metadata, opts: NamespaceOptions): Namespace {
  const ctx = makeCtx(md, createStore(md), opts.fileData, opts.now, opts.limits);
  const xattrs = createXattrOps(ctx);
  return {
    lookup: (cred, parent, name) => lookup(ctx, cred, parent, name),
    getattr: (ino) => getattr(ctx, ino),
    setattr: (p) => setattr(ctx, p),
    access: (cred, ino, mask) => access(ctx, cred, ino, mask),
    create: (mountId, cred, parent, name, mode, umask, flags) => create(ctx, mountId, cred, parent, name, mode, umask, flags),
    mknod: (cred, parent, name, mode, umask, rdev) => mknod(ctx, cred, parent, name, mode, umask, rdev),
    mkdir: (cred, parent, name, mode, umask) => mkdir(ctx, cred, parent, name, mode, umask),
    symlink: (cred, parent, name, target) => symlink(ctx, cred, parent, name, target),
    readlink: (ino) => readlink(ctx, ino),
    link: (cred, ino, newParent, newName) => link(ctx, cred, ino, newParent, newName),
    unlink: (cred, parent, name) => unlink(ctx, cred, parent, name),
    rmdir: (cred, parent, name) => rmdir(ctx, cred, parent, name),
    rename: (cred, parent, name, newParent, newName, flags) => rename(ctx, cred, parent, name, newParent, newName, flags),
    open: (mountId, cred, ino, flags) => open(ctx, mountId, cred, ino, flags),
    release: (mountId, ino) => release(ctx, mountId, ino),
    requireOpen: (mountId, ino) => requireOpen(ctx, mountId, ino),
    readdir: (cred, ino, cookie, maxEntries, plus) => readdir(ctx, cred, ino, cookie, maxEntries, plus),
    statvfs: () => statvfs(ctx),
    setxattr: xattrs.setxattr,
    getxattr: xattrs.getxattr,
    listxattr: xattrs.listxattr,
    removexattr: xattrs.removexattr,
    noteWrite: (ino, endOffset, mtime) => noteWrite(ctx, ino, endOffset, mtime),
    dropMount: (mountId) => dropMount(ctx, mountId),
    check: () => check(ctx),
  };
}
