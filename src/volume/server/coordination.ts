/**
 * The RPC methods of leases and locks: thin adapters from validated parameters to the volume's
 * lease manager and lock table. Lease, Lock and GetLock may wait, so they are "blocking"
 * handlers: the dispatcher runs their synchronous part (checks) inside the batch and answers
 * their promise after it, without holding the batch. They change no metadata and write no
 * reply rows: a resent request is idempotent instead (asking for what one holds answers at
 * once).
 * During the reclaim period after a start (docs/LEASES.md §8) acquisitions wait for its end;
 * releases, demotions and unlocks go through at once, and Reclaim puts back what a mount held.
 */
import { FsError, PfsError } from '../../common/errors/index.js';
import { S_IFMT, S_IFREG, type Params, type Result } from '../../common/protocol/index.js';
import type { CallContext } from './handlers.js';

export type BlockingMethod = 'Lease' | 'Lock' | 'GetLock' | 'Reclaim';
type BlockingHandler<M extends BlockingMethod> = (p: Params<M>, ctx: CallContext) => Result<M> | Promise<Result<M>>;

/** Runs `fn` now, or once the reclaim period is over. */
function whenReclaimed<T>(ctx: CallContext, fn: () => T | Promise<T>): T | Promise<T> {
  const ended = ctx.volume.reclaim.ended();
  return ended ? ended.then(fn) : fn();
}

/** An acquisition of `ino`: runs once the reclaim period is over, recorded as a grant after it. */
function afterReclaim<T>(ctx: CallContext, ino: number, fn: () => T | Promise<T>): T | Promise<T> {
  return whenReclaimed(ctx, () => {
    ctx.volume.reclaim.acquiring(ino);
    return fn();
  });
}

function regularFile(ctx: CallContext, ino: number): void {
  const attr = ctx.volume.ns.getattr(ino);
  if ((attr.mode & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', `inode ${ino} is not a regular file: only regular files are leased`);
}

export const blockingHandlers: { [M in BlockingMethod]: BlockingHandler<M> } = {
  Lease: (p, ctx) => {
    const ask = () => {
      const granted = ctx.volume.leases.request(p.mountId, p.ino, p.request);
      return granted instanceof Promise ? granted.then((g) => ({ granted: g })) : { granted };
    };
    // A release also answers a directory lease's break (docs/LEASES.md §5), or gives one up.
    if (p.request === 'release') ctx.volume.dirLeases.released(p.mountId, p.ino);
    if (p.request === 'release' || p.request === 'demote') return ask();
    regularFile(ctx, p.ino);
    return afterReclaim(ctx, p.ino, ask);
  },
  Lock: ({ mountId, ...req }, ctx) => {
    if (req.type === 'unlock') return ctx.volume.locks.lock(mountId, req);
    ctx.volume.ns.getattr(req.ino); // ENOENT for a missing inode
    return afterReclaim(ctx, req.ino, () => ctx.volume.locks.lock(mountId, req));
  },
  GetLock: ({ mountId, ...q }, ctx) => {
    ctx.volume.ns.getattr(q.ino);
    return whenReclaimed(ctx, () => ctx.volume.locks.getLock(mountId, q));
  },
  Reclaim: (p, ctx) => reclaim(p, ctx),
};

/**
 * Reclaim: puts back the leases and locks the mount held before the restart. Every claim is
 * checked before any is applied; when one cannot be granted (docs/LEASES.md §8) the mount is
 * evicted, which fences the requests it sends after this one (resent Wrote calls among them).
 * Blocking only so that it runs outside a per-call savepoint: the eviction must stay when the
 * call fails.
 */
function reclaim(p: Params<'Reclaim'>, ctx: CallContext): Result<'Reclaim'> {
  const { volume, mounts } = ctx;
  const refuse = (ino: number, what: string): never => {
    mounts.evict(p.mountId, ino, `its claim of ${what} on inode ${ino} after a proxyfsd restart could not be granted`);
    mounts.fence(p.mountId, ctx.clientId);
    throw new PfsError('PFS_ERR_INTERNAL', 'unreachable: an evicted mount passed the fence');
  };
  // A Reclaim again from a mount that has claimed (the agent resends an unanswered Reclaim when
  // proxyfsd restarts again, and claims anew beside it): what it already holds is granted again,
  // and its locks are checked against the other owners only.
  const again = volume.reclaim.claimed(p.mountId);
  const held = volume.leases.held(p.mountId);
  const shared = new Set(held.shared);
  const exclusive = new Set(held.exclusive);
  const holds = (ino: number, mode: 'shared' | 'exclusive') => exclusive.has(ino) || (mode === 'shared' && shared.has(ino));
  for (const l of p.leases) if (!holds(l.ino, l.mode) && !volume.reclaim.mayClaim(p.mountId, l.ino)) refuse(l.ino, `a ${l.mode} lease`);
  for (const l of p.locks) if (!again && !volume.reclaim.mayClaim(p.mountId, l.ino)) refuse(l.ino, `a ${l.kind} lock`);
  for (const l of p.leases) {
    if (holds(l.ino, l.mode)) continue;
    if (!volume.leases.claim(p.mountId, l.ino, l.mode)) refuse(l.ino, `a ${l.mode} lease (another mount holds a conflicting one)`);
  }
  for (const { ino, owner, kind, type, start, end, pid } of p.locks) {
    const r = volume.locks.lock(p.mountId, { ino, owner, kind, type, start, end, pid, wait: false });
    if (r instanceof Promise || !r.granted) refuse(ino, `a ${kind} ${type} lock (another owner holds a conflicting one)`);
  }
  if (p.done) volume.reclaim.finished(p.mountId);
  return {};
}
