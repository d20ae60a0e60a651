/**
 * rename(2) / renameat2(2) in the reference model, in the order of fs/namei.c do_renameat2 and
 * vfs_rename: parents, names ('.'/'..' EBUSY), flags, source, target (EXCHANGE needs one,
 * NOREPLACE refuses one), loops (EINVAL / ENOTEMPTY), same inode (nothing happens), delete and
 * create permission with the sticky rule, type clashes, a moving directory's own write
 * permission, and a non-empty target directory.
 */
import type { Cred } from '../../src/common/protocol/index.js';
import type { Path, PosixModel } from './posix-model.js';
import { classify, fail, need, stickyOk, type MNode } from './posix-rules.js';

const NOREPLACE = 1, EXCHANGE = 2;

/** Is dir `a` the directory `d` or above it? */
function above(m: PosixModel, a: MNode, d: MNode): boolean {
  for (let cur = d; ; cur = m.node(cur.parent)) {
    if (cur.id === a.id) return true;
    if (cur.id === 1) return false;
  }
}

export function renameInModel(m: PosixModel, cred: Cred, from: Path, to: Path, flags: number): void {
  const [od, on] = m.dirOf(cred, from);
  const [nd, nn] = m.dirOf(cred, to);
  if ((flags & ~3) !== 0 || flags === 3) fail('EINVAL');
  const oldKind = classify(on);
  const newKind = classify(nn);
  if (oldKind !== 'plain') fail('EBUSY');
  if (newKind !== 'plain') fail(flags & NOREPLACE ? 'EEXIST' : 'EBUSY');
  const src = m.existing(od, on) ?? fail('ENOENT');
  const dst = m.existing(nd, nn);
  const exchange = (flags & EXCHANGE) !== 0;
  if (exchange && !dst) fail('ENOENT');
  if (flags & NOREPLACE && dst) fail('EEXIST');
  if (od !== nd) {
    if (src.type === 'dir' && above(m, src, nd)) fail('EINVAL');
    if (dst?.type === 'dir' && above(m, dst, od)) fail(exchange ? 'EINVAL' : 'ENOTEMPTY');
  }
  if (dst === src) return;
  need(cred, od, 3);
  if (!stickyOk(cred, od, src)) fail('EPERM');
  need(cred, nd, 3);
  if (dst) {
    if (!stickyOk(cred, nd, dst)) fail('EPERM');
    if (!exchange && src.type === 'dir' && dst.type !== 'dir') fail('ENOTDIR');
    if (!exchange && src.type !== 'dir' && dst.type === 'dir') fail('EISDIR');
  }
  if (od !== nd) {
    if (src.type === 'dir') need(cred, src, 2);
    if (exchange && dst!.type === 'dir') need(cred, dst!, 2);
  }
  if (!exchange && dst?.type === 'dir' && dst.entries.size > 0) fail('ENOTEMPTY');

  if (exchange) {
    od.entries.set(on, dst!.id);
    nd.entries.set(nn, src.id);
    if (src.type === 'dir') src.parent = nd.id;
    if (dst!.type === 'dir') dst!.parent = od.id;
    return;
  }
  od.entries.delete(on);
  nd.entries.delete(nn);
  nd.entries.set(nn, src.id);
  if (src.type === 'dir') src.parent = nd.id;
  if (dst?.type === 'dir') m.nodes.delete(dst.id);
  else if (dst) { dst.links--; m.reap(dst.id); }
}
