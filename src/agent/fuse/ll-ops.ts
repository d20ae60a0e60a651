/**
 * The inode-based session's op table (docs/AGENT.md, issue 12): every handler takes the caller
 * from its request, awaits one vfs.ino (or handle) call and answers through its LlReply.
 * Node ids are volume inode numbers (the root, inode 1, is FUSE_ROOT_ID). Timing, counting,
 * trace lines and errno mapping happen once, in ops.ts's createOpRunner, which both sessions use.
 */
import type { Attr, StatVfs } from '../../common/protocol/index.js';
import type { Logger } from '../../common/rpc/index.js';
import type { Entry, OpContext, Vfs } from '../vfs/index.js';
import type { LlAttr, LlLock, LlOps, LlReply, LlStatfs, LlTimeouts } from './binding/lowlevel/types.js';
import { createOpRunner, NO_OBSERVER, type OpObserver } from './ops.js';

export interface LlOpsOptions {
  vfs: Vfs;
  log: Logger;
  trace: boolean;
  blockSizeBytes: number;
  /** How long the kernel may keep attributes and names (AttrDuration, EntryDuration), in ms. */
  attrTimeoutMs: number;
  entryTimeoutMs: number;
  /** Metrics; default none. */
  observer?: OpObserver;
  /**
   * A lasting ENODATA for security.capability (FsError.absentKnown: it holds until the VFS calls
   * its forgetCapabilityAbsence(ino)): the session answers the kernel's next asks itself.
   */
  capabilityAbsent?: (ino: number) => void;
}


/**
 * How long the kernel keeps attributes that are current under a lease: until the lease goes, when
 * the VFS tells it (so this bound only matters if that notification were lost).
 */
export const LEASED_ATTR_TIMEOUT_S = 3600;
/** How long the kernel keeps a name kept under its directory's lease: until the lease goes (docs/LEASES.md §5). */
export const LEASED_ENTRY_TIMEOUT_S = 3600;

/**
 * Buffers READ answers are assembled in, reused: a fresh 1 MiB buffer per request costs a malloc
 * and an external ArrayBuffer for V8 to collect (as it did for writes, FUSE-BINDING.md 8.3).
 */
const READ_POOL_BUFFERS = 16;
const READ_BUFFER_BYTES = 1 << 20;

function createBufferPool(max: number): { take(size: number): Buffer; give(buf: Buffer): void } {
  const free: Buffer[] = [];
  return {
    take(size) {
      const i = free.findIndex((b) => b.length >= size);
      return i >= 0 ? free.splice(i, 1)[0]!.subarray(0, size) : Buffer.allocUnsafeSlow(Math.max(size, READ_BUFFER_BYTES)).subarray(0, size);
    },
    give(buf) {
      // A view of a pooled buffer gives back the whole of it.
      const whole = Buffer.from(buf.buffer, buf.byteOffset, buf.buffer.byteLength - buf.byteOffset);
      if (free.length < max) free.push(whole);
    },
  };
}

export function toLlAttr(a: Attr, blksize: number): LlAttr {
  return {
    ino: a.ino, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size, rdev: a.rdev,
    blocks: a.blocks, blksize, atime: a.atime, mtime: a.mtime, ctime: a.ctime,
  };
}

export function toLlStatfs(s: StatVfs): LlStatfs {
  return { bsize: s.bsize, frsize: s.frsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.favail, namemax: s.namemax };
}

export function createLlOps(opts: LlOpsOptions): { ops: LlOps } {
  const { vfs, log } = opts;
  const fs = vfs.ino;
  const observer = opts.observer ?? NO_OBSERVER;
  const timeouts: LlTimeouts = { attrS: opts.attrTimeoutMs / 1000, entryS: opts.entryTimeoutMs / 1000 };
  const llAttr = (a: Attr) => toLlAttr(a, opts.blockSizeBytes);
  const ctx = (r: LlReply): OpContext => r.caller();

  const runOp = createOpRunner({ log, trace: opts.trace, observer });
  /** Runs work and answers: reply(value) on success, r.err(errno) on failure. */
  function run<T>(op: string, detail: unknown, r: LlReply, work: () => Promise<T>, reply: (value: T) => void): void {
    runOp(op, detail, work, reply, (errno) => r.err(-errno));
  }
  // Attributes current under a lease held here are kept by the kernel until the lease goes
  // (the VFS invalidates the node then); others for AttrDuration.
  const attrS = (a: Attr) => (fs.attrCurrent(a) ? LEASED_ATTR_TIMEOUT_S : timeouts.attrS);
  // Names kept under the parent's directory lease are kept by the kernel until the lease goes.
  const entryTimeouts = (e: Entry) => ({ attrS: attrS(e.attr), entryS: e.nameKept ? LEASED_ENTRY_TIMEOUT_S : timeouts.entryS });
  const entry = (r: LlReply) => (e: Entry) => r.entry(llAttr(e.attr), entryTimeouts(e));
  const ok = (r: LlReply) => () => r.ok();
  const lockRequest = (lock: LlLock, wait: boolean, closing: boolean, r: LlReply) => ({ type: lock.type, start: lock.start, end: lock.end, wait, pid: lock.pid, closing, signal: r.signal });

  const readBuffers = createBufferPool(READ_POOL_BUFFERS);

  const ops: LlOps = {
    lookup: (parent, name, r) => run('lookup', { parent, name }, r, () => fs.lookup(ctx(r), parent, name), entry(r)),
    forget: (ino, nlookup) => fs.forget(ino, nlookup),
    getattr: (ino, fh, r) => run('getattr', { ino, fh }, r, () => fs.getattr(ctx(r), ino), (a) => r.attr(llAttr(a), attrS(a))),
    setattr: (ino, set, fh, r) => run('setattr', { ino, set, fh }, r, () => fs.setattr(ctx(r), ino, { ...set, ...(set.mode !== undefined ? { mode: set.mode & 0o7777 } : {}) }, fh), (a) => r.attr(llAttr(a), timeouts.attrS)),
    readlink: (ino, r) => run('readlink', ino, r, () => fs.readlink(ctx(r), ino), (t) => r.readlink(t)),
    mknod: (parent, name, mode, rdev, r) => run('mknod', { parent, name }, r, () => fs.mknod(ctx(r), parent, name, mode, rdev), entry(r)),
    mkdir: (parent, name, mode, r) => run('mkdir', { parent, name }, r, () => fs.mkdir(ctx(r), parent, name, mode), entry(r)),
    unlink: (parent, name, r) => run('unlink', { parent, name }, r, () => fs.unlink(ctx(r), parent, name), ok(r)),
    rmdir: (parent, name, r) => run('rmdir', { parent, name }, r, () => fs.rmdir(ctx(r), parent, name), ok(r)),
    symlink: (target, parent, name, r) => run('symlink', { parent, name }, r, () => fs.symlink(ctx(r), target, parent, name), entry(r)),
    rename: (parent, name, newParent, newName, r) => run('rename', { parent, name, newParent, newName }, r, () => fs.rename(ctx(r), parent, name, newParent, newName), ok(r)),
    link: (ino, newParent, newName, r) => run('link', { ino, newParent, newName }, r, () => fs.link(ctx(r), ino, newParent, newName), entry(r)),
    // No keep_cache: the kernel drops the file's pages at each open (close-to-open, docs/SEMANTICS.md).
    open: (ino, flags, r) => run('open', { ino, flags }, r, () => fs.open(ctx(r), ino, flags), (fh) => r.open(fh)),
    create: (parent, name, mode, flags, r) => run('create', { parent, name }, r, () => fs.create(ctx(r), parent, name, mode, flags), (c) => r.create(llAttr(c.attr), entryTimeouts(c), c.fh)),
    read: (ino, fh, offset, size, r) => {
      const buf = readBuffers.take(size);
      run('read', { fh, offset, size }, r, () => vfs.read(fh, offset, size, buf), (n) => {
        observer.onRead(n);
        r.buf(buf.subarray(0, n)); // written to /dev/fuse before it returns
        readBuffers.give(buf); // not after a failure: a fetch still running may write into it
      });
    },
    write: (ino, fh, offset, data, r) => run('write', { fh, offset, size: data.length }, r, () => vfs.write(fh, offset, data), (n) => {
      observer.onWrite(n);
      r.written(n);
    }),
    // close(2): the descriptor's POSIX locks go (libfuse's low-level API leaves that to us), then the data is reported.
    flush: (ino, fh, lockOwner, r) => run('flush', { fh }, r, async () => {
      await vfs.closeLocks(fh, lockOwner, 'posix');
      await vfs.flush(fh);
    }, ok(r)),
    release: (ino, fh, _flags, flockRelease, lockOwner, r) => run('release', { fh }, r, async () => {
      if (flockRelease) await vfs.closeLocks(fh, lockOwner, 'flock').catch((err) => log.warn({ fh, err: (err as Error).message }, 'dropping the flock at close failed; the server drops it at unmount'));
      await vfs.release(fh);
    }, ok(r)),
    fsync: (ino, fh, _datasync, r) => run('fsync', { fh }, r, () => vfs.fsync(fh), ok(r)),
    opendir: (ino, _flags, r) => r.open(0),
    readdir: (ino, _fh, offset, size, r) => run('readdir', { ino, offset }, r, () => fs.readdir(ctx(r), ino, offset, Math.max(1, Math.floor(size / 32)), false), (page) => {
      r.dir(page.entries.map((e) => ({ name: e.name, ino: e.ino, mode: e.mode, off: e.cookie })), offset);
    }),
    readdirplus: (ino, _fh, offset, size, r) => run('readdirplus', { ino, offset }, r, () => fs.readdir(ctx(r), ino, offset, Math.max(1, Math.floor(size / 160)), true), (page) => {
      const entries = page.entries.filter((e) => e.attr);
      const sent = r.dirPlus(entries.map((e) => ({ name: e.name, attr: llAttr(e.attr!), timeouts, off: e.cookie })), offset);
      fs.entered(entries.slice(0, sent).filter((e) => e.name !== '.' && e.name !== '..').map((e) => e.attr!));
    }),
    releasedir: (ino, fh, r) => r.ok(),
    fsyncdir: (ino, fh, _datasync, r) => r.ok(), // every namespace change is committed before it is acknowledged
    statfs: (ino, r) => run('statfs', ino, r, () => vfs.statfs(), (s) => r.statfs(toLlStatfs(s))),
    setxattr: (ino, name, value, flags, r) => run('setxattr', { ino, name }, r, () => fs.setxattr(ctx(r), ino, name, value, flags), ok(r)),
    getxattr: (ino, name, r) => run('getxattr', { ino, name }, r, () => fs.getxattr(ctx(r), ino, name).catch((err) => {
      if ((err as { absentKnown?: boolean }).absentKnown === true && name === 'security.capability') opts.capabilityAbsent?.(ino);
      throw err;
    }), (v) => r.xattr(v)),
    listxattr: (ino, r) => run('listxattr', ino, r, () => fs.listxattr(ctx(r), ino), (names) => r.xattrNames(names)),
    removexattr: (ino, name, r) => run('removexattr', { ino, name }, r, () => fs.removexattr(ctx(r), ino, name), ok(r)),
    access: (ino, mask, r) => run('access', { ino, mask }, r, () => fs.access(ctx(r), ino, mask), ok(r)),
    // Locks are held by proxyfsd (docs/LEASES.md §6); a wait ends with EINTR when the kernel interrupts it.
    getlk: (ino, fh, owner, lock, r) => {
      if (lock.type === 'unlock') return r.lock(undefined);
      const q = { type: lock.type, start: lock.start, end: lock.end };
      run('getlk', { ino, fh, owner }, r, () => vfs.getLock(fh, owner, q), (c) => r.lock(c && { type: c.type, start: c.start, end: c.end, pid: c.pid }));
    },
    setlk: (ino, fh, owner, lock, wait, closing, r) => run(wait ? 'setlkw' : 'setlk', { ino, fh, owner, type: lock.type }, r, () => vfs.setLock(fh, owner, lockRequest(lock, wait, closing, r)), ok(r)),
    flock: (ino, fh, owner, type, wait, closing, r) => {
      const pid = r.caller().pid;
      run('flock', { ino, fh, owner, type }, r, () => vfs.flock(fh, owner, lockRequest({ type, start: 0, end: -1, pid }, wait, closing, r)), ok(r));
    },
  };
  return { ops };
}
