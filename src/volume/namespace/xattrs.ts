/**
 * Extended attributes, by namespace as Linux:
 * - user.*: only on regular files and directories (set/remove EPERM, get ENODATA elsewhere);
 *   get needs read and set/remove write permission on the inode; in a sticky directory only
 *   its owner or root may set them.
 * - trusted.*: root only (set/remove EPERM; get answers ENODATA and list hides them for others).
 * - security.*: anyone may read; only root may set or remove (EPERM).
 * - anything else (system.* included): ENOTSUP.
 * Checks in order: flags (EINVAL), name (ERANGE, > XATTR_NAME_MAX bytes or empty), value
 * (E2BIG), inode (ENOENT), namespace (ENOTSUP, EINVAL for a bare prefix), permission, existence
 * (XATTR_CREATE: EEXIST; XATTR_REPLACE, get, remove: ENODATA). Set and remove update ctime.
 * listxattr needs no permission, as on Linux.
 */
import { FsError } from '../../common/errors/index.js';
import {
  R_OK, S_ISVTX, W_OK, XATTR_CREATE, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX,
} from '../../common/protocol/index.js';
import type { Cred, Ino } from '../../common/protocol/index.js';
import { mustInode, type Ctx } from './context.js';
import { isDir, isReg, type Inode } from './inode-store.js';
import { isOwnerOrRoot, isRoot, requirePermission } from './permissions.js';

type XattrNs = 'user' | 'trusted' | 'security';
const PREFIXES: readonly XattrNs[] = ['user', 'trusted', 'security'];

function checkName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > XATTR_NAME_MAX) {
    throw new FsError('ERANGE', `xattr name length ${Buffer.byteLength(name, 'utf8')}`);
  }
}

function namespaceOf(name: string): XattrNs {
  for (const ns of PREFIXES) {
    if (name.startsWith(ns + '.')) {
      if (name.length === ns.length + 1) throw new FsError('EINVAL', `xattr name ${name} has no suffix`);
      return ns;
    }
  }
  throw new FsError('ENOTSUP', `xattr namespace of ${name} is not supported`);
}

/** The permission rules of a change (set or remove) of one xattr. */
function checkWrite(cred: Cred, inode: Inode, ns: XattrNs): void {
  if (ns !== 'user') {
    if (!isRoot(cred)) throw new FsError('EPERM', `only root may change ${ns}.* xattrs`);
    return;
  }
  if (!isReg(inode.mode) && !isDir(inode.mode)) throw new FsError('EPERM', 'user.* xattrs only on files and directories');
  if (isDir(inode.mode) && inode.mode & S_ISVTX && !isOwnerOrRoot(cred, inode)) {
    throw new FsError('EPERM', 'user.* xattrs of a sticky directory belong to its owner');
  }
  requirePermission(cred, inode, W_OK);
}

export interface XattrOps {
  setxattr(cred: Cred, ino: Ino, name: string, value: Buffer, flags: number): void;
  getxattr(cred: Cred, ino: Ino, name: string): Buffer;
  listxattr(cred: Cred, ino: Ino): string[];
  removexattr(cred: Cred, ino: Ino, name: string): void;
}

export function createXattrOps(ctx: Ctx): XattrOps {
  const db = ctx.md.db;
  const getStmt = db.prepare<[number, string], { value: Buffer }>('SELECT value FROM xattrs WHERE ino = ? AND name = ?');
  const putStmt = db.prepare('INSERT INTO xattrs (ino, name, value) VALUES (?, ?, ?) ON CONFLICT (ino, name) DO UPDATE SET value = excluded.value');
  const delStmt = db.prepare('DELETE FROM xattrs WHERE ino = ? AND name = ?');
  const listStmt = db.prepare<[number], { name: string }>('SELECT name FROM xattrs WHERE ino = ? ORDER BY name');

  const touch = (inode: Inode) => {
    inode.ctimeNs = ctx.nowNs();
    ctx.store.updateInode(inode);
  };

  return {
    setxattr(cred, ino, name, value, flags) {
      if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) throw new FsError('EINVAL', `xattr flags ${flags}`);
      checkName(name);
      if (value.length > XATTR_SIZE_MAX) throw new FsError('E2BIG', `xattr value of ${value.length} bytes`);
      const inode = mustInode(ctx, ino);
      checkWrite(cred, inode, namespaceOf(name));
      const exists = getStmt.get(ino, name) !== undefined;
      if (exists && flags & XATTR_CREATE) throw new FsError('EEXIST', `xattr ${name} exists`);
      if (!exists && flags & XATTR_REPLACE) throw new FsError('ENODATA', `no xattr ${name}`);
      putStmt.run(ino, name, value);
      touch(inode);
    },
    getxattr(cred, ino, name) {
      checkName(name);
      const inode = mustInode(ctx, ino);
      const ns = namespaceOf(name);
      if (ns === 'trusted' && !isRoot(cred)) throw new FsError('ENODATA', `no xattr ${name}`);
      if (ns === 'user') {
        if (!isReg(inode.mode) && !isDir(inode.mode)) throw new FsError('ENODATA', `no xattr ${name}`);
        requirePermission(cred, inode, R_OK);
      }
      const row = getStmt.get(ino, name);
      if (!row) throw new FsError('ENODATA', `no xattr ${name}`);
      return row.value;
    },
    listxattr(cred, ino) {
      mustInode(ctx, ino);
      const names = listStmt.all(ino).map((r) => r.name);
      return isRoot(cred) ? names : names.filter((n) => !n.startsWith('trusted.'));
    },
    removexattr(cred, ino, name) {
      checkName(name);
      const inode = mustInode(ctx, ino);
      checkWrite(cred, inode, namespaceOf(name));
      if (delStmt.run(ino, name).changes === 0) throw new FsError('ENODATA', `no xattr ${name}`);
      touch(inode);
    },
  };
}
