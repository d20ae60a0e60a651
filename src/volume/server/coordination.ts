/**
 * The RPC methods of leases and locks: thin adapters from validated parameters to the volume's
 * lease manager and lock table. Lease and Lock may wait, so they are "blocking" handlers: the
 * dispatcher runs their synchronous part (checks) inside the batch and answers their promise
 * after it, without holding the batch. They change no metadata and write no reply rows: a
 * resent request is idempotent instead (asking for what one holds answers at once).
 */
import { FsError } from '../../common/errors/index.js';
import { S_IFMT, S_IFREG, type Params, type Result } from '../../common/protocol/index.js';
import type { CallContext } from './handlers.js';

export type BlockingMethod = 'Lease' | 'Lock';
type BlockingHandler<M extends BlockingMethod> = (p: Params<M>, ctx: CallContext) => Result<M> | Promise<Result<M>>;

export const blockingHandlers: { [M in BlockingMethod]: BlockingHandler<M> } = {
  Lease: (p, ctx) => {
    if (p.request !== 'release' && p.request !== 'demote') {
      const attr = ctx.volume.ns.getattr(p.ino);
      if ((attr.mode & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', `inode ${p.ino} is not a regular file: only regular files are leased`);
    }
    const granted = ctx.volume.leases.request(p.mountId, p.ino, p.request);
    return granted instanceof Promise ? granted.then((g) => ({ granted: g })) : { granted };
  },
  Lock: ({ mountId, ...req }, ctx) => {
    if (req.type !== 'unlock') ctx.volume.ns.getattr(req.ino); // ENOENT for a missing inode
    return ctx.volume.locks.lock(mountId, req);
  },
};

export function getLock(p: Params<'GetLock'>, ctx: CallContext): Result<'GetLock'> {
  const { mountId, ...q } = p;
  ctx.volume.ns.getattr(q.ino);
  return ctx.volume.locks.getLock(mountId, q);
}
