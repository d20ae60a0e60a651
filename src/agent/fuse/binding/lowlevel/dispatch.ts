// The dispatcher: one addon message → one LlOps handler call with its Reply. A handler missing
// from the table is answered ENOSYS, except OPENDIR (opened, fh 0), RELEASEDIR, FLUSH, RELEASE,
// FSYNC and FSYNCDIR (success). A throwing handler is reported and answered EIO.

import { constants } from 'node:os';
import { OP, type Dispatch } from './addon.js';
import { F_RDLCK, F_WRLCK, Reply, type ReplyContext } from './reply.js';
import type { LlLock, LlLockType, LlOps, LlSetAttr } from './types.js';

const { EIO, ENOSYS } = constants.errno;
const SET = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, ATIME_NOW: 128, MTIME_NOW: 256 } as const;
const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

function decodeSetAttr(toSet: number, d: Float64Array): LlSetAttr {
  const set: LlSetAttr = {};
  if (toSet & SET.MODE) set.mode = d[0]!;
  if (toSet & SET.UID) set.uid = d[1]!;
  if (toSet & SET.GID) set.gid = d[2]!;
  if (toSet & SET.SIZE) set.size = d[3]!;
  if (toSet & SET.ATIME_NOW) set.atime = 'now';
  else if (toSet & SET.ATIME) set.atime = { sec: d[4]!, nsec: d[5]! };
  if (toSet & SET.MTIME_NOW) set.mtime = 'now';
  else if (toSet & SET.MTIME) set.mtime = { sec: d[6]!, nsec: d[7]! };
  return set;
}

function decodeLock(d: Float64Array): LlLock {
  const type: LlLockType = d[0] === F_RDLCK ? 'read' : d[0] === F_WRLCK ? 'write' : 'unlock';
  return { type, start: d[1]!, end: d[2]!, pid: d[3]! };
}

const flockType = (op: number): LlLockType => (op & LOCK.UN ? 'unlock' : op & LOCK.EX ? 'write' : 'read');

export interface DispatchHooks {
  init(): void;
  /** A WRITE whose payload sat in write-pool slot `slot` was answered: the addon may reuse it. */
  releaseWrite(slot: number): void;
  end(): void;
}

export function createDispatch(ops: LlOps, ctx: ReplyContext, hooks: DispatchHooks): Dispatch {
  const nosys = (r: Reply) => r.err(ENOSYS);
  return (op, id, ino, fh, x, y, name, name2, data, interrupted) => {
    switch (op) {
      case OP.INIT: return hooks.init();
      case OP.END: return hooks.end();
      case OP.INTERRUPT: return ctx.live.get(id)?.interrupt();
      case OP.FORGET: {
        if (ino !== 0) return ops.forget(ino, x);
        const d = data as Float64Array;
        for (let i = 0; i < d.length; i += 2) ops.forget(d[i]!, d[i + 1]!);
        return;
      }
    }
    // Sizes the reply checks: readdir's buffer, getxattr/listxattr's (0: a size probe).
    const r = new Reply(ctx, op, id, op === OP.READDIR || op === OP.GETXATTR || op === OP.LISTXATTR ? y : 0);
    ctx.live.set(id, r);
    if (interrupted) r.interrupt();
    const s = name!;
    const owner = name2!;
    try {
      switch (op) {
        case OP.LOOKUP: return ops.lookup(ino, s, r);
        case OP.GETATTR: return ops.getattr(ino, x ? fh : undefined, r);
        case OP.SETATTR: return ops.setattr ? ops.setattr(ino, decodeSetAttr(x, data as Float64Array), y ? fh : undefined, r) : nosys(r);
        case OP.READLINK: return ops.readlink ? ops.readlink(ino, r) : nosys(r);
        case OP.MKNOD: return ops.mknod ? ops.mknod(ino, s, x, y, r) : nosys(r);
        case OP.MKDIR: return ops.mkdir ? ops.mkdir(ino, s, x, r) : nosys(r);
        case OP.UNLINK: return ops.unlink ? ops.unlink(ino, s, r) : nosys(r);
        case OP.RMDIR: return ops.rmdir ? ops.rmdir(ino, s, r) : nosys(r);
        case OP.SYMLINK: return ops.symlink ? ops.symlink(name2!, ino, s, r) : nosys(r);
        case OP.RENAME: return ops.rename ? ops.rename(ino, s, fh, name2!, r) : nosys(r);
        case OP.LINK: return ops.link ? ops.link(ino, fh, s, r) : nosys(r);
        case OP.OPEN: return ops.open ? ops.open(ino, y, r) : nosys(r);
        case OP.READ: return ops.read ? ops.read(ino, fh, x, y, r) : nosys(r);
        case OP.WRITE: {
          // y > 0: the payload is a view of write-pool slot y - 1, valid until the answer.
          if (y > 0) r.onDone = () => hooks.releaseWrite(y - 1);
          const d = data as Uint8Array;
          const buf = Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
          return ops.write ? ops.write(ino, fh, x, buf, r) : nosys(r);
        }
        case OP.FLUSH: return ops.flush ? ops.flush(ino, fh, owner, r) : r.ok();
        case OP.RELEASE: return ops.release ? ops.release(ino, fh, y, x !== 0, owner, r) : r.ok();
        case OP.FSYNC: return ops.fsync ? ops.fsync(ino, fh, x !== 0, r) : r.ok();
        case OP.OPENDIR: return ops.opendir ? ops.opendir(ino, y, r) : r.open(0);
        case OP.READDIR: return ops.readdir ? ops.readdir(ino, fh, x, y, r) : nosys(r);
        case OP.RELEASEDIR: return ops.releasedir ? ops.releasedir(ino, fh, r) : r.ok();
        case OP.FSYNCDIR: return ops.fsyncdir ? ops.fsyncdir(ino, fh, x !== 0, r) : r.ok();
        case OP.STATFS: return ops.statfs ? ops.statfs(ino, r) : nosys(r);
        case OP.SETXATTR: return ops.setxattr ? ops.setxattr(ino, s, data as Buffer, x, r) : nosys(r);
        case OP.GETXATTR: return ops.getxattr ? ops.getxattr(ino, s, r) : nosys(r);
        case OP.LISTXATTR: return ops.listxattr ? ops.listxattr(ino, r) : nosys(r);
        case OP.REMOVEXATTR: return ops.removexattr ? ops.removexattr(ino, s, r) : nosys(r);
        case OP.ACCESS: return ops.access ? ops.access(ino, x, r) : nosys(r);
        case OP.CREATE: return ops.create ? ops.create(ino, s, x, y, r) : nosys(r);
        case OP.GETLK: return ops.getlk ? ops.getlk(ino, fh, owner, decodeLock(data as Float64Array), r) : nosys(r);
        case OP.SETLK: return ops.setlk ? ops.setlk(ino, fh, owner, decodeLock(data as Float64Array), x !== 0, false, r) : nosys(r);
        case OP.FLOCK: return ops.flock ? ops.flock(ino, fh, owner, flockType(x), (x & LOCK.NB) === 0, false, r) : nosys(r);
        default: return nosys(r);
      }
    } catch (err) {
      ctx.onError(op, err);
      if (!r.done) r.err(EIO);
    }
  };
}
