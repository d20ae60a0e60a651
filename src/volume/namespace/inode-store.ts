/**
 * The rows the namespace works on: inodes, dirents and opens, as thin prepared statements.
 * No POSIX rules here; namespace code above decides what may change.
 * Times are int64 nanoseconds read exactly (safeIntegers) and kept as BigInt in an Inode.
 */
import type { Statement } from 'better-sqlite3';
import { FsError } from '../../common/errors/index.js';
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, S_IFLNK } from '../../common/protocol/index.js';
import type { Attr, Ino } from '../../common/protocol/index.js';
import { fromNs } from '../metadata/index.js';
import type { Metadata } from '../metadata/index.js';

export interface Inode {
  ino: Ino;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  crtimeNs: bigint;
  target: Buffer | null;
  nextCookie: number;
}

export interface Dirent {
  parent: Ino;
  name: string;
  ino: Ino;
  cookie: number;
}

export interface Store {
  getInode(ino: Ino): Inode | undefined;
  /** Allocates a fresh inode number (never reused) and inserts the row. */
  insertInode(fields: Omit<Inode, 'ino'>): Inode;
  /** Writes every column of the row except next_cookie (owned by addEntry). */
  updateInode(inode: Inode): void;
  /** Deletes the inode row, its xattrs and any open counts. */
  deleteInode(ino: Ino): void;
  /** Adds nlinkDelta to a directory's nlink and sets its mtime and ctime. */
  touchDir(ino: Ino, nlinkDelta: number, nowNs: bigint): void;
  countInodes(): number;

  getEntry(parent: Ino, name: string): Dirent | undefined;
  /** Adds an entry with the next cookie of its directory; returns the cookie. */
  addEntry(parent: Ino, name: string, ino: Ino): number;
  removeEntry(parent: Ino, name: string): void;
  /** Points an existing entry at another inode, keeping its cookie (RENAME_EXCHANGE). */
  setEntryIno(parent: Ino, name: string, ino: Ino): void;
  hasEntries(parent: Ino): boolean;
  /** Entries with cookie > after, in cookie order, joined with their inodes. */
  entriesAfter(parent: Ino, after: number, limit: number): { entry: Dirent; inode: Inode }[];
  /** The directory holding dirIno's entry; ROOT_INO for the root (and for orphans). */
  parentOf(dirIno: Ino): Ino;

  addOpen(mountId: string, ino: Ino): void;
  /** Decrements one open; false when the mount had none of ino. */
  removeOpen(mountId: string, ino: Ino): boolean;
  openCount(ino: Ino): number;
  /** Whether the mount holds ino open. */
  isOpenBy(mountId: string, ino: Ino): boolean;
  /** Deletes every open of a mount; returns the inodes it had open. */
  takeOpensOfMount(mountId: string): Ino[];
}

type Row = Record<string, bigint | Buffer | null>;

const INODE_COLS = 'ino, mode, nlink, uid, gid, rdev, size, atime_ns, mtime_ns, ctime_ns, crtime_ns, target, next_cookie';

export function rowToInode(r: Row): Inode {
  return {
    ino: Number(r.ino), mode: Number(r.mode), nlink: Number(r.nlink), uid: Number(r.uid), gid: Number(r.gid),
    rdev: Number(r.rdev), size: Number(r.size),
    atimeNs: r.atime_ns as bigint, mtimeNs: r.mtime_ns as bigint, ctimeNs: r.ctime_ns as bigint, crtimeNs: r.crtime_ns as bigint,
    target: (r.target as Buffer | null) ?? null, nextCookie: Number(r.next_cookie),
  };
}

export function isDir(mode: number): boolean { return (mode & S_IFMT) === S_IFDIR; }
export function isReg(mode: number): boolean { return (mode & S_IFMT) === S_IFREG; }
export function isLnk(mode: number): boolean { return (mode & S_IFMT) === S_IFLNK; }

export function toAttr(i: Inode): Attr {
  return {
    ino: i.ino, mode: i.mode, nlink: i.nlink, uid: i.uid, gid: i.gid, rdev: i.rdev, size: i.size,
    blocks: isReg(i.mode) ? Math.ceil(i.size / 512) : 0,
    atime: fromNs(i.atimeNs), mtime: fromNs(i.mtimeNs), ctime: fromNs(i.ctimeNs), crtime: fromNs(i.crtimeNs),
  };
}

/** meta key: the number of inodes (fsck checks it against the table). */
export const INODE_COUNT_KEY = 'inode_count';

export function createStore(md: Metadata): Store {
  const db = md.db;
  const big = (s: Statement) => s.safeIntegers(true);
  const getInodeStmt = big(db.prepare(`SELECT ${INODE_COLS} FROM inodes WHERE ino = ?`));
  const insertStmt = db.prepare(`INSERT INTO inodes (${INODE_COLS}) VALUES
    (@ino, @mode, @nlink, @uid, @gid, @rdev, @size, @atimeNs, @mtimeNs, @ctimeNs, @crtimeNs, @target, @nextCookie)`);
  const updateStmt = db.prepare(`UPDATE inodes SET mode = @mode, nlink = @nlink, uid = @uid, gid = @gid, rdev = @rdev,
    size = @size, atime_ns = @atimeNs, mtime_ns = @mtimeNs, ctime_ns = @ctimeNs, crtime_ns = @crtimeNs, target = @target
    WHERE ino = @ino`);
  const deleteInodeStmt = db.prepare('DELETE FROM inodes WHERE ino = ?');
  const deleteXattrsStmt = db.prepare('DELETE FROM xattrs WHERE ino = ?');
  const deleteOpensStmt = db.prepare('DELETE FROM opens WHERE ino = ?');
  const touchDirStmt = db.prepare('UPDATE inodes SET nlink = nlink + ?, mtime_ns = ?, ctime_ns = ? WHERE ino = ?');
  const countInodesStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM inodes');

  const getEntryStmt = db.prepare<[number, string], Dirent>('SELECT parent, name, ino, cookie FROM dirents WHERE parent = ? AND name = ?');
  const takeCookieStmt = db.prepare<[number], { cookie: number }>(
    'UPDATE inodes SET next_cookie = next_cookie + 1 WHERE ino = ? RETURNING next_cookie - 1 AS cookie');
  const addEntryStmt = db.prepare('INSERT INTO dirents (parent, name, ino, cookie) VALUES (?, ?, ?, ?)');
  const removeEntryStmt = db.prepare('DELETE FROM dirents WHERE parent = ? AND name = ?');
  const setEntryInoStmt = db.prepare('UPDATE dirents SET ino = ? WHERE parent = ? AND name = ?');
  const hasEntriesStmt = db.prepare<[number], { x: number }>('SELECT 1 AS x FROM dirents WHERE parent = ? LIMIT 1');
  const entriesAfterStmt = big(db.prepare(`SELECT d.parent AS d_parent, d.name AS d_name, d.cookie AS d_cookie, ${INODE_COLS.split(', ').map((c) => 'i.' + c).join(', ')}
    FROM dirents d JOIN inodes i ON i.ino = d.ino WHERE d.parent = ? AND d.cookie > ? ORDER BY d.cookie LIMIT ?`));
  const parentOfStmt = db.prepare<[number], { parent: number }>('SELECT parent FROM dirents WHERE ino = ? LIMIT 1');

  const addOpenStmt = db.prepare(`INSERT INTO opens (mount_id, ino, count) VALUES (?, ?, 1)
    ON CONFLICT (mount_id, ino) DO UPDATE SET count = count + 1`);
  const getOpenStmt = db.prepare<[string, number], { count: number }>('SELECT count FROM opens WHERE mount_id = ? AND ino = ?');
  const decOpenStmt = db.prepare('UPDATE opens SET count = count - 1 WHERE mount_id = ? AND ino = ?');
  const delOpenStmt = db.prepare('DELETE FROM opens WHERE mount_id = ? AND ino = ?');
  const openCountStmt = db.prepare<[number], { n: number | null }>('SELECT SUM(count) AS n FROM opens WHERE ino = ?');
  const opensOfMountStmt = db.prepare<[string], { ino: number }>('SELECT ino FROM opens WHERE mount_id = ?');
  const delOpensOfMountStmt = db.prepare('DELETE FROM opens WHERE mount_id = ?');

  const params = (i: Inode) => ({ ...i });
  // meta inode_count: kept with every insert and delete, in the same transaction (a volume
  // formatted before it existed counts once, at its first change).
  const storedCount = (): number => {
    const v = md.getMeta(INODE_COUNT_KEY);
    return v === undefined ? countInodesStmt.get()!.n : Number(v);
  };

  return {
    getInode(ino) {
      const r = getInodeStmt.get(ino) as Row | undefined;
      return r ? rowToInode(r) : undefined;
    },
    insertInode(fields) {
      const inode: Inode = { ino: md.nextCounter('next_ino'), ...fields };
      const n = storedCount();
      insertStmt.run(params(inode));
      md.setMeta(INODE_COUNT_KEY, String(n + 1));
      return inode;
    },
    updateInode(inode) {
      const { nextCookie: _unused, ...rest } = inode;
      updateStmt.run(rest);
    },
    deleteInode(ino) {
      const n = storedCount();
      if (deleteInodeStmt.run(ino).changes === 1) md.setMeta(INODE_COUNT_KEY, String(n - 1));
      deleteXattrsStmt.run(ino);
      deleteOpensStmt.run(ino);
    },
    touchDir(ino, nlinkDelta, nowNs) {
      touchDirStmt.run(nlinkDelta, nowNs, nowNs, ino);
    },
    countInodes: storedCount,

    getEntry(parent, name) {
      return getEntryStmt.get(parent, name);
    },
    addEntry(parent, name, ino) {
      const row = takeCookieStmt.get(parent);
      if (!row) throw new FsError('ENOENT', `directory ${parent} vanished`);
      addEntryStmt.run(parent, name, ino, row.cookie);
      return row.cookie;
    },
    removeEntry(parent, name) {
      removeEntryStmt.run(parent, name);
    },
    setEntryIno(parent, name, ino) {
      setEntryInoStmt.run(ino, parent, name);
    },
    hasEntries(parent) {
      return hasEntriesStmt.get(parent) !== undefined;
    },
    entriesAfter(parent, after, limit) {
      const rows = entriesAfterStmt.all(parent, after, limit) as Row[];
      return rows.map((r) => {
        const inode = rowToInode(r);
        return { entry: { parent: Number(r.d_parent), name: String(r.d_name), ino: inode.ino, cookie: Number(r.d_cookie) }, inode };
      });
    },
    parentOf(dirIno) {
      return parentOfStmt.get(dirIno)?.parent ?? ROOT_INO;
    },

    addOpen(mountId, ino) {
      addOpenStmt.run(mountId, ino);
    },
    removeOpen(mountId, ino) {
      const row = getOpenStmt.get(mountId, ino);
      if (!row) return false;
      if (row.count > 1) decOpenStmt.run(mountId, ino);
      else delOpenStmt.run(mountId, ino);
      return true;
    },
    openCount(ino) {
      return openCountStmt.get(ino)?.n ?? 0;
    },
    isOpenBy(mountId, ino) {
      return getOpenStmt.get(mountId, ino) !== undefined;
    },
    takeOpensOfMount(mountId) {
      const inos = opensOfMountStmt.all(mountId).map((r) => r.ino);
      delOpensOfMountStmt.run(mountId);
      return inos;
    },
  };
}
