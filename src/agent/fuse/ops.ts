/**
 * The FUSE op table: every handler decodes its arguments, takes the caller's context (before
 * any await: the binding only knows it synchronously), awaits one vfs call and encodes the
 * reply. Timing, counting, trace logging and errno mapping happen once, in `run`.
 * Ops not listed here are not registered, so libfuse answers ENOSYS for them.
 */
import type { Logger } from '../../common/rpc/index.js';
import type { Vfs, OpContext } from '../vfs/index.js';
import type { FuseOps } from './binding/index.js';
import { errnoName, toErrno } from './errno.js';
import { toStat, toStatfs } from './stat.js';
import { decodeFlock, decodeLock, encodeConflict, endOf, ownerString } from './lock-args.js';

/** Where each answered op is reported (common/metrics' AgentMetrics.fuse has this shape). */
export interface OpObserver {
  /** One op answered after `seconds`; errno is its code name ('ENOENT') when it failed. */
  onOp(op: string, seconds: number, errno?: string): void;
  onRead(bytes: number): void;
  onWrite(bytes: number): void;
}

export interface OpsOptions {
  vfs: Vfs;
  log: Logger;
  trace: boolean;
  blockSizeBytes: number;
  /** The caller of the request being dispatched (valid synchronously at handler start). */
  callerContext: () => OpContext | null;
  /** Metrics; default none. */
  observer?: OpObserver;
}

export const NO_OBSERVER: OpObserver = { onOp() {}, onRead() {}, onWrite() {} };

/**
 * Both sessions' way to run one op: time it, count it (observer), write its trace line
 * (TraceEnabled: op, path/inode or handle, duration, result 'ok' or the errno name), log an
 * unexpected error (answered EIO), then ok(value) or fail(errno, err).
 */
export function createOpRunner(opts: { log: Logger; trace: boolean; observer: OpObserver }) {
  const { log, observer } = opts;
  return function run<T>(op: string, detail: unknown, work: () => Promise<T>, ok: (value: T) => void, fail: (errno: number, err: unknown) => void): void {
    const started = performance.now();
    work().then(
      (value) => {
        const ms = performance.now() - started;
        observer.onOp(op, ms / 1000);
        if (opts.trace) log.debug({ op, detail, ms, result: 'ok' }, 'fuse op');
        ok(value);
      },
      (err) => {
        const ms = performance.now() - started;
        const { errno, unexpected } = toErrno(err);
        const result = errnoName(errno);
        observer.onOp(op, ms / 1000, result);
        if (unexpected) log.error({ op, detail, ms, code: (err as { code?: string }).code, err: (err as Error)?.message }, 'fuse op failed unexpectedly; answering EIO');
        else if (opts.trace) log.debug({ op, detail, ms, result }, 'fuse op');
        fail(errno, err);
      },
    );
  };
}

export function createOps(opts: OpsOptions): { ops: FuseOps } {
  const { vfs, log } = opts;
  const observer = opts.observer ?? NO_OBSERVER;

  /** The caller; an op that needs one and has none fails (EIO) rather than running as root. */
  function ctx(): OpContext {
    const c = opts.callerContext();
    if (!c) throw new Error('no caller context for this request (is the pfs_fuse_context addon built?)');
    return c;
  }

  const runOp = createOpRunner({ log, trace: opts.trace, observer });
  /** One op, answered through its callback: reply(0, value) or reply(errno, undefined, err). */
  function run<T>(op: string, detail: unknown, work: () => Promise<T>, reply: (code: number, value?: T, err?: unknown) => void): void {
    runOp(op, detail, work, (value) => reply(0, value), (errno, err) => reply(errno, undefined, err));
  }

  const ops: FuseOps = {
    getattr: (path, cb) => { const c = ctx(); run('getattr', path, () => vfs.getattr(c, path), (code, a) => cb(code, a && toStat(a, opts.blockSizeBytes))); },
    // With hard_remove the binding turns a handle-less stat of an open file into fgetattr with
    // some open fd of that node; should that fd be gone already, the path answers instead.
    fgetattr: (path, fd, cb) => {
      const c = opts.callerContext();
      run('fgetattr', { path, fd }, () => vfs.fgetattr(fd).catch((err) => {
        if ((err as { code?: string }).code !== 'EBADF' || !path || !c) throw err;
        return vfs.getattr(c, path);
      }), (code, a) => cb(code, a && toStat(a, opts.blockSizeBytes)));
    },
    access: (path, mask, cb) => { const c = ctx(); run('access', path, () => vfs.access(c, path, mask), cb); },
    statfs: (path, cb) => run('statfs', path, () => vfs.statfs(), (code, s) => cb(code, s && toStatfs(s))),
    opendir: (path, _flags, cb) => { const c = ctx(); run('opendir', path, () => vfs.opendir(c, path), (code) => cb(code, 0)); },
    releasedir: (_path, _fd, cb) => cb(0),
    readdir: (path, cb) => {
      const c = ctx();
      run('readdir', path, () => vfs.readdir(c, path), (code, entries) => cb(code, entries?.map((e) => e.name)));
    },
    fsyncdir: (path, _datasync, _fd, cb) => run('fsyncdir', path, async () => undefined, cb), // every namespace change is committed before it is acknowledged
    mkdir: (path, mode, cb) => { const c = ctx(); run('mkdir', path, () => vfs.mkdir(c, path, mode), cb); },
    mknod: (path, mode, rdev, cb) => { const c = ctx(); run('mknod', path, () => vfs.mknod(c, path, mode, rdev), cb); },
    rmdir: (path, cb) => { const c = ctx(); run('rmdir', path, () => vfs.rmdir(c, path), cb); },
    symlink: (target, path, cb) => { const c = ctx(); run('symlink', path, () => vfs.symlink(c, target, path), cb); },
    readlink: (path, cb) => { const c = ctx(); run('readlink', path, () => vfs.readlink(c, path), (code, t) => cb(code, t)); },
    link: (from, to, cb) => { const c = ctx(); run('link', { from, to }, () => vfs.link(c, from, to), cb); },
    unlink: (path, cb) => { const c = ctx(); run('unlink', path, () => vfs.unlink(c, path), cb); },
    rename: (from, to, cb) => { const c = ctx(); run('rename', { from, to }, () => vfs.rename(c, from, to), cb); },
    chmod: (path, mode, cb) => { const c = ctx(); run('chmod', path, () => vfs.chmod(c, path, mode), cb); },
    chown: (path, uid, gid, cb) => { const c = ctx(); run('chown', path, () => vfs.chown(c, path, uid, gid), cb); },
    utimens: (path, atime, mtime, cb) => { const c = ctx(); run('utimens', path, () => vfs.utimens(c, path, atime, mtime), cb); },
    truncate: (path, size, cb) => { const c = ctx(); run('truncate', { path, size }, () => vfs.truncate(c, path, size), cb); },
    ftruncate: (path, fd, size, cb) => { const c = ctx(); run('ftruncate', { path, fd, size }, () => vfs.ftruncate(c, fd, size), cb); },
    create: (path, mode, flags, cb) => { const c = ctx(); run('create', path, () => vfs.create(c, path, mode, flags), (code, fh) => cb(code, fh)); },
    open: (path, flags, cb) => { const c = ctx(); run('open', path, () => vfs.open(c, path, flags), (code, fh) => cb(code, fh)); },
    read: (path, fd, buf, len, pos, cb) => {
      // buf aliases kernel memory until we reply: the VFS fills it directly.
      run('read', { fd, len, pos }, () => vfs.read(fd, pos, len, buf), (code, n) => {
        if (code !== 0) return cb(code);
        observer.onRead(n ?? 0);
        cb(n ?? 0);
      });
    },
    write: (path, fd, buf, len, pos, cb) => {
      // buf aliases kernel memory until we reply: writeback copies it before resolving.
      run('write', { fd, len, pos }, () => vfs.write(fd, pos, buf.subarray(0, len)), (code, n) => {
        if (code !== 0) return cb(code);
        observer.onWrite(n ?? 0);
        cb(n ?? 0);
      });
    },
    flush: (path, fd, cb) => run('flush', { path, fd }, () => vfs.flush(fd), cb),
    fsync: (path, _datasync, fd, cb) => run('fsync', { path, fd }, () => vfs.fsync(fd), cb),
    release: (path, fd, cb) => run('release', { path, fd }, () => vfs.release(fd), cb),
    setxattr: (path, name, value, _position, flags, cb) => { const c = ctx(); run('setxattr', { path, name }, () => vfs.setxattr(c, path, name, Buffer.from(value), flags), cb); },
    // absentKnown: an ENODATA for security.capability that holds while a lease does (vfs/names.ts).
    getxattr: (path, name, _position, cb) => {
      const c = ctx();
      run('getxattr', { path, name }, () => vfs.getxattr(c, path, name), (code, v, err) => cb(code, v, (err as { absentKnown?: boolean } | undefined)?.absentKnown === true));
    },
    listxattr: (path, cb) => { const c = ctx(); run('listxattr', path, () => vfs.listxattr(c, path), (code, names) => cb(code, names)); },
    removexattr: (path, name, cb) => { const c = ctx(); run('removexattr', { path, name }, () => vfs.removexattr(c, path, name), cb); },
    // Locks are held by proxyfsd (docs/LEASES.md §6); a wait ends with EINTR when lk.signal aborts.
    lock: (path, fh, cmd, lk, owner, cb) => {
      const o = ownerString(owner);
      const detail = { path, fh, cmd, type: lk.type, start: lk.start, len: lk.len, owner: o, closing: lk.closing };
      if (cmd !== 'getlk') return run(cmd, detail, () => vfs.setLock(fh, o, decodeLock(lk, cmd === 'setlkw')), (code) => cb(code));
      if (lk.type === 'unlck') return cb(0);
      const q = { type: lk.type === 'rdlck' ? 'read' as const : 'write' as const, start: lk.start, end: endOf(lk.start, lk.len) };
      run('getlk', detail, () => vfs.getLock(fh, o, q), (code, c) => cb(code, code === 0 ? encodeConflict(c) : undefined));
    },
    flock: (path, fh, op, owner, cb) => {
      const pid = opts.callerContext()?.pid ?? 0;
      run('flock', { path, fh, op: op.op, nonblock: op.nonblock, owner: ownerString(owner), closing: op.closing }, () => vfs.flock(fh, ownerString(owner), decodeFlock(op, pid)), cb);
    },
  };
  return { ops };
}
