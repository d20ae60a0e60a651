/**
 * The operations of the inode-based FUSE session (docs/AGENT.md): every node is named by its
 * volume inode number, so each operation is at most one RPC plus the lease it runs under; no
 * path is resolved and no path cache is kept. Entry replies (lookup, create, mkdir, mknod,
 * symlink, link, READDIRPLUS entries) are counted in core.nodes; FORGET uncounts them.
 */
import { errorCode } from '../../common/errors/index.js';
import { type Attr, type Cred, type DirEntry, type Ino } from '../../common/protocol/index.js';
import { cachedAttr, noteAttr, withLocalWrites, type Core } from './core.js';
import { createAt, openIno, truncateIno } from './data.js';
import { attrUnder, changed, changeFiles, fileAt, isRegular, noteFile, reopen, withLease } from './leased.js';
import { linkAt, mkdirAt, mknodAt, readdirPage, setattrIno, symlinkAt, type AttrChanges } from './names.js';

export interface SetAttrChanges extends AttrChanges {
  size?: number;
}

/** The kernel was given an entry for attr.ino: one more reference. */
export function entered(core: Core, attr: Attr): Attr {
  core.nodes.ref(attr.ino, attr.mode);
  core.nodes.seen(attr);
  if (isRegular(attr)) noteFile(core, attr.ino);
  return attr;
}

/**
 * A regular file comes with a lease when proxyfsd can grant one at once (the lease a getattr or
 * open would ask for next), its attributes current under it; a file leased here already answers
 * with its attributes under that lease. Either way the kernel may keep them.
 */
export async function lookup(core: Core, cred: Cred, parent: Ino, name: string): Promise<Attr> {
  const { leased, ...attr } = await core.client.call('Lookup', { cred, parent, name, lease: true });
  if (leased && core.leases.adopt(attr.ino, leased)) {
    noteFile(core, attr.ino);
    return entered(core, noteAttr(core, attr, core.leases.epoch(attr.ino)));
  }
  const cached = cachedAttr(core, attr.ino, core.leases.heldEpoch(attr.ino));
  return entered(core, cached ? withLocalWrites(core, cached) : noteAttr(core, attr));
}

/** The kernel dropped n references; a file it no longer knows and nothing has open gives up its lease. */
export function forget(core: Core, ino: Ino, n: number): void {
  if (core.nodes.forget(ino, n) && core.handles.openCount(ino) === 0 && core.leases.known(ino)) core.leases.drop(ino);
}

/**
 * A regular file's attributes are asked under a Shared lease (another agent holding it
 * Exclusive writes its buffered data back first), with this agent's unflushed writes laid over.
 */
export async function getattr(core: Core, cred: Cred, ino: Ino): Promise<Attr> {
  const leased = () => withLease(core, ino, 'shared', (held) => attrUnder(core, cred, ino, held));
  if (core.nodes.isFile(ino) || core.fileInos.has(ino) || core.leases.known(ino)) return leased();
  let attr: Attr;
  try {
    attr = noteAttr(core, await core.client.call('GetAttr', { cred, ino }));
  } catch (err) {
    // A directory or FIFO removed while the kernel holds it (open, or a working directory):
    // inode numbers are never reused, so it is gone for good; Linux answers its last
    // attributes with no links.
    const last = errorCode(err) === 'ENOENT' ? core.nodes.lastSeen(ino) : undefined;
    if (last) return { ...last, nlink: 0 };
    throw err;
  }
  core.nodes.seen(attr);
  if (!isRegular(attr)) return attr;
  noteFile(core, ino);
  return leased();
}

/** setattr: a size change truncates (under Exclusive, after a flush) together with the other changes in one SetAttr. */
export async function setattr(core: Core, cred: Cred, ino: Ino, set: SetAttrChanges, fh: number | undefined): Promise<Attr> {
  const { size, ...changes } = set;
  if (size === undefined) {
    const attr = await setattrIno(core, cred, ino, changes);
    core.nodes.seen(attr);
    return attr;
  }
  if (fh !== undefined) await reopen(core, core.handles.get(fh));
  return truncateIno(core, cred, ino, size, changes);
}

export async function mkdir(core: Core, cred: Cred, parent: Ino, name: string, mode: number): Promise<Attr> {
  return entered(core, await mkdirAt(core, cred, parent, name, mode));
}

export async function mknod(core: Core, cred: Cred, parent: Ino, name: string, mode: number, rdev: number): Promise<Attr> {
  return entered(core, await mknodAt(core, cred, parent, name, mode, rdev));
}

export async function symlink(core: Core, cred: Cred, target: string, parent: Ino, name: string): Promise<Attr> {
  return entered(core, await symlinkAt(core, cred, target, parent, name));
}

export async function link(core: Core, cred: Cred, ino: Ino, newParent: Ino, newName: string): Promise<Attr> {
  return entered(core, await linkAt(core, cred, ino, newParent, newName));
}

export async function unlink(core: Core, cred: Cred, parent: Ino, name: string): Promise<void> {
  changed(core, await changeFiles(core, () => core.client.call('Unlink', { cred, parent, name }), () => fileAt(core, cred, parent, name)));
}

export async function rmdir(core: Core, cred: Cred, parent: Ino, name: string): Promise<void> {
  await core.client.call('Rmdir', { cred, parent, name });
}

export async function rename(core: Core, cred: Cred, parent: Ino, name: string, newParent: Ino, newName: string): Promise<void> {
  changed(core, await changeFiles(
    core,
    () => core.client.call('Rename', { cred, parent, name, newParent, newName, flags: 0 }),
    async () => [...await fileAt(core, cred, parent, name), ...await fileAt(core, cred, newParent, newName)],
  ));
}

export async function open(core: Core, cred: Cred, ino: Ino, flags: number): Promise<number> {
  return openIno(core, cred, ino, flags);
}

export async function create(core: Core, cred: Cred, parent: Ino, name: string, mode: number, flags: number): Promise<{ attr: Attr; fh: number }> {
  const made = await createAt(core, cred, parent, name, mode, flags);
  entered(core, made.attr);
  return made;
}

/** One page of the directory after `cookie`; with plus, each entry carries its attributes. */
export async function readdir(core: Core, cred: Cred, ino: Ino, cookie: number, maxEntries: number, plus: boolean): Promise<{ entries: DirEntry[]; eof: boolean }> {
  return readdirPage(core, cred, ino, cookie, Math.min(maxEntries, core.settings.readdirMaxEntries), plus);
}
