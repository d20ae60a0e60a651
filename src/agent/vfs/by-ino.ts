/**
 * The operations of the inode-based FUSE session (docs/AGENT.md): every node is named by its
 * volume inode number, so each operation is at most one RPC plus the lease it runs under; no
 * path is resolved and no path cache is kept. Entry replies (lookup, create, mkdir, mknod,
 * symlink, link, READDIRPLUS entries) are counted in core.nodes; FORGET uncounts them.
 * Names and directory attributes the kernel may keep come under directory leases
 * (docs/LEASES.md §5): an entry says whether its name was recorded under the parent's lease
 * (nameKept), and every change of a directory runs inside dirLeases.changing.
 */
import { errorCode, FsError } from '../../common/errors/index.js';
import { type Attr, type Cred, type DirEntry, type Ino } from '../../common/protocol/index.js';
import { cacheAttr, cachedAttr, forgetDirAttr, noteAttr, withLocalWrites, type Core } from './core.js';
import { createAt, openIno, truncateIno } from './data.js';
import { attrUnder, changed, changeFiles, fileAt, isDirectory, isRegular, noteFile, reopen, withLease } from './leased.js';
import { linkAt, mkdirAt, mknodAt, readdirPage, setattrIno, symlinkAt, type AttrChanges, type Made } from './names.js';

export interface SetAttrChanges extends AttrChanges {
  size?: number;
}

/** An entry the kernel is given; nameKept: the name was recorded under the parent's directory lease, so the kernel may keep it until the lease goes. */
export interface Entry {
  attr: Attr;
  nameKept: boolean;
}

/**
 * A change by this mount that adds `name` to `parent` (create, mkdir, mknod, symlink, link): the
 * new name is kept under the parent's directory lease when that lease was held from before the
 * call until its answer (nobody else changed the directory meanwhile: that would have broken it).
 */
async function adding<T extends { parentAttr?: Attr }>(core: Core, parent: Ino, name: string, work: () => Promise<T>): Promise<{ out: T; nameKept: boolean }> {
  const epoch = core.dirLeases.epoch(parent);
  const out = await core.dirLeases.changing([parent], work, (r) => ({ added: [[parent, name]], attr: r.parentAttr }));
  return { out, nameKept: epoch !== undefined && core.dirLeases.keepName(parent, epoch, name) };
}

/** mkdir, mknod, symlink, link: a directory made here comes with its lease and starts complete (LEASES.md §5). */
async function made(core: Core, parent: Ino, name: string, work: () => Promise<Made>): Promise<Entry> {
  const mark = core.dirLeases.mark();
  const { out: { parentAttr: _, leased, ...attr }, nameKept } = await adding(core, parent, name, work);
  if (leased && isDirectory(attr)) noteDir(core, attr, core.dirLeases.adoptNew(attr.ino, mark));
  return { attr: entered(core, attr), nameKept };
}

/** A directory's attributes with its directory lease (epoch), kept until the lease goes. */
function noteDir(core: Core, attr: Attr, epoch: number | undefined): Attr {
  if (epoch !== undefined) cacheAttr(core, attr, epoch);
  return attr;
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
export async function lookup(core: Core, cred: Cred, parent: Ino, name: string): Promise<Entry> {
  if (core.dirLeases.absent(parent, name)) throw new FsError('ENOENT', `no ${JSON.stringify(name)} in directory ${parent} (a directory made here, all of whose names this agent knows)`);
  const mark = core.dirLeases.mark();
  const { leased, parentLeased, ...attr } = await core.client.call('Lookup', { cred, parent, name, lease: true });
  core.dirLeases.present(parent, name);
  const parentEpoch = parentLeased ? core.dirLeases.adopt(parent, mark) : undefined;
  const nameKept = parentEpoch !== undefined && core.dirLeases.keepName(parent, parentEpoch, name);
  if (!isRegular(attr)) {
    const epoch = leased && isDirectory(attr) ? core.dirLeases.adopt(attr.ino, mark) : undefined;
    return { attr: entered(core, noteDir(core, attr, epoch)), nameKept };
  }
  if (leased && core.leases.adopt(attr.ino, leased)) {
    noteFile(core, attr.ino);
    return { attr: entered(core, noteAttr(core, attr, core.leases.epoch(attr.ino))), nameKept };
  }
  const cached = cachedAttr(core, attr.ino, core.leases.heldEpoch(attr.ino));
  return { attr: entered(core, cached ? withLocalWrites(core, cached) : noteAttr(core, attr)), nameKept };
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
  const dirEpoch = core.dirLeases.epoch(ino);
  const kept = dirEpoch === undefined ? undefined : cachedAttr(core, ino, dirEpoch);
  if (kept) return kept;
  const mark = core.dirLeases.mark();
  let attr: Attr;
  try {
    const { leased: dirLeased, ...got } = await core.client.call('GetAttr', { cred, ino, lease: true });
    attr = noteAttr(core, got);
    if (dirLeased && isDirectory(attr)) noteDir(core, attr, core.dirLeases.adopt(ino, mark));
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
    const attr = await core.dirLeases.changing([ino], () => setattrIno(core, cred, ino, changes));
    core.nodes.seen(attr);
    return attr;
  }
  if (fh !== undefined) await reopen(core, core.handles.get(fh));
  return truncateIno(core, cred, ino, size, changes);
}

export async function mkdir(core: Core, cred: Cred, parent: Ino, name: string, mode: number): Promise<Entry> {
  return made(core, parent, name, () => mkdirAt(core, cred, parent, name, mode, true));
}

export async function mknod(core: Core, cred: Cred, parent: Ino, name: string, mode: number, rdev: number): Promise<Entry> {
  return made(core, parent, name, () => mknodAt(core, cred, parent, name, mode, rdev, true));
}

export async function symlink(core: Core, cred: Cred, target: string, parent: Ino, name: string): Promise<Entry> {
  return made(core, parent, name, () => symlinkAt(core, cred, target, parent, name, true));
}

export async function link(core: Core, cred: Cred, ino: Ino, newParent: Ino, newName: string): Promise<Entry> {
  return made(core, newParent, newName, () => linkAt(core, cred, ino, newParent, newName, true));
}

export async function unlink(core: Core, cred: Cred, parent: Ino, name: string): Promise<void> {
  const r = await core.dirLeases.changing(
    [parent],
    () => changeFiles(core, () => core.client.call('Unlink', { cred, parent, name, lease: true }), () => fileAt(core, cred, parent, name)),
    (out) => ({ removed: [[parent, name]], attr: out.parentAttr }),
  );
  changed(core, r);
}

export async function rmdir(core: Core, cred: Cred, parent: Ino, name: string): Promise<void> {
  const r = await core.dirLeases.changing(
    [parent],
    () => core.client.call('Rmdir', { cred, parent, name, lease: true }),
    (out) => ({ removed: [[parent, name]], attr: out.parentAttr }),
  );
  for (const d of r.dirs ?? []) core.dirLeases.gone(d);
}

/** A directory moved or replaced changes too: the answer names them (dirs), and their kept attributes go. */
export async function rename(core: Core, cred: Cred, parent: Ino, name: string, newParent: Ino, newName: string): Promise<void> {
  const r = await core.dirLeases.changing(
    [parent, newParent],
    () => changeFiles(
      core,
      () => core.client.call('Rename', { cred, parent, name, newParent, newName, flags: 0 }),
      async () => [...await fileAt(core, cred, parent, name), ...await fileAt(core, cred, newParent, newName)],
    ),
    () => ({ removed: [[parent, name]], added: [[newParent, newName]] }),
  );
  changed(core, r);
  for (const d of r.dirs ?? []) forgetDirAttr(core, d);
}

export async function open(core: Core, cred: Cred, ino: Ino, flags: number): Promise<number> {
  return openIno(core, cred, ino, flags);
}

export async function create(core: Core, cred: Cred, parent: Ino, name: string, mode: number, flags: number): Promise<Entry & { fh: number }> {
  const { out: { attr, fh }, nameKept } = await adding(core, parent, name, () => createAt(core, cred, parent, name, mode, flags));
  return { attr: entered(core, attr), fh, nameKept };
}

/** One page of the directory after `cookie`; with plus, each entry carries its attributes. */
export async function readdir(core: Core, cred: Cred, ino: Ino, cookie: number, maxEntries: number, plus: boolean): Promise<{ entries: DirEntry[]; eof: boolean }> {
  return readdirPage(core, cred, ino, cookie, Math.min(maxEntries, core.settings.readdirMaxEntries), plus);
}
