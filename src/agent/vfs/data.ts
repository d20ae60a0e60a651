/**
 * File data operations: open/create/release, read (extent plan + read cache + overlay of
 * unflushed writes, read-ahead for sequential readers), write (into writeback), flush, fsync,
 * truncate. See docs/AGENT.md for the ordering rules. Leases (leased.ts): open and read run
 * under Shared, write, truncate, O_TRUNC and flush/fsync of dirty data under Exclusive.
 */
import { FsError, errorCode } from '../../common/errors/index.js';
import { O_ACCMODE, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, type Attr, type Cred, type Ino } from '../../common/protocol/index.js';
import { cacheAttr, credOf, forgetNoCapability, localSize, noteAttr, resolve, splitPath, type Core } from './core.js';
import type { OpContext } from './creds.js';
import type { Handle } from './handles.js';
import type { AttrChanges } from './names.js';
import { attrUnder, changeFiles, checkLease, fileAt, notePath, reopen, sizeUnder, withLease } from './leased.js';

function track(core: Core, attr: Attr, epoch: number | undefined): void {
  core.serverSize.set(attr.ino, attr.size);
  if (epoch !== undefined) core.sizeEpoch.set(attr.ino, epoch);
  else core.sizeEpoch.delete(attr.ino);
}

function addHandle(core: Core, ino: Ino, flags: number, cred: Cred): number {
  return core.handles.add(ino, flags, { cred, generation: core.client.generation });
}

export async function openFile(core: Core, ctx: OpContext, path: string, flags: number): Promise<number> {
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  notePath(core, ino, path);
  return openIno(core, cred, ino, flags);
}

export async function openIno(core: Core, cred: Cred, ino: Ino, flags: number): Promise<number> {
  // O_TRUNC changes the data: other agents' caches must go first (Exclusive revokes them).
  return withLease(core, ino, flags & O_TRUNC ? 'exclusive' : 'shared', async (epoch) => {
    if (flags & O_TRUNC) await flushIno(core, ino);
    const attr = await core.client.call('Open', { cred, ino, flags });
    core.extents.invalidate(ino); // close-to-open: another agent may have written since we cached
    track(core, attr, epoch);
    return addHandle(core, ino, flags, cred);
  });
}

export async function createFile(core: Core, ctx: OpContext, path: string, mode: number, flags: number | null): Promise<number> {
  const cred = await credOf(core, ctx);
  const { parent, name } = splitPath(path);
  const { attr, fh } = await createAt(core, cred, await resolve(core, cred, parent), name, mode, flags ?? (O_CREAT | O_RDWR));
  core.paths.set(path, attr.ino);
  notePath(core, attr.ino, path);
  return fh;
}

export async function createAt(core: Core, cred: Cred, parent: Ino, name: string, mode: number, flags: number): Promise<{ attr: Attr; fh: number; parentAttr?: Attr }> {
  // The new file comes with its Exclusive lease (one RPC, not Create + Lease): its size is
  // current under it, and it has no security.capability (the kernel asks before each write).
  // Of an existing file with O_TRUNC, a change other mounts' leases may stand in the way of.
  const { leased, parentAttr, ...attr } = await changeFiles(
    core,
    () => core.client.call('Create', { cred, parent, name, mode: mode & 0o7777, umask: 0, flags, lease: true }),
    () => fileAt(core, cred, parent, name),
  );
  core.extents.invalidate(attr.ino);
  const epoch = leased && core.leases.adopt(attr.ino, 'exclusive') ? core.leases.epoch(attr.ino) : undefined;
  track(core, attr, epoch); // without a lease the first read or append asks for the size again
  if (epoch !== undefined) {
    cacheAttr(core, attr, epoch); // the kernel keeps them too (no GetAttr before the first write)
    if (core.noCapability.size >= 100_000) forgetNoCapability(core);
    core.noCapability.set(attr.ino, { untilMs: 0, epoch });
  }
  return { attr, fh: addHandle(core, attr.ino, flags, cred), ...(parentAttr ? { parentAttr } : {}) };
}

export async function releaseFile(core: Core, fh: number): Promise<void> {
  const h = core.handles.remove(fh);
  if (!h) throw new FsError('EBADF', `no open file handle ${fh}`);
  let flushError: unknown;
  try {
    await core.writeback.flush(h.ino);
  } catch (err) {
    flushError = err;
  }
  // An open made under a mount since lost (evicted) went with it: nothing to release.
  if (h.generation === core.client.generation) {
    await core.client.call('Release', { cred: h.cred, ino: h.ino }).catch((err) => {
      core.log.warn({ ino: h.ino, code: errorCode(err) }, 'Release failed; the server drops the open reference when the mount goes');
    });
  }
  if (core.handles.openCount(h.ino) === 0) {
    core.serverSize.delete(h.ino);
    core.sizeEpoch.delete(h.ino);
  }
  if (flushError) throw flushError;
}

export async function flushIno(core: Core, ino: Ino): Promise<void> {
  await core.writeback.flush(ino);
}

/** close (FUSE flush) and fsync: buffered writes are reported under the Exclusive lease they were made under. */
export async function flushFile(core: Core, fh: number): Promise<void> {
  const ino = core.handles.get(fh).ino;
  if (core.writeback.dirtyEnd(ino) > 0 || core.writeback.dirtyMtime(ino)) {
    await withLease(core, ino, 'exclusive', () => flushIno(core, ino));
  } else {
    await flushIno(core, ino); // reports a failure of data already written back
  }
}

export async function fgetattr(core: Core, fh: number): Promise<Attr> {
  const h = core.handles.get(fh);
  return withLease(core, h.ino, 'shared', (epoch) => attrUnder(core, h.cred, h.ino, epoch));
}

/** Truncation, with any other attribute changes of the same setattr (one SetAttr). */
export async function truncateIno(core: Core, cred: Cred, ino: Ino, size: number, changes: AttrChanges = {}): Promise<Attr> {
  return withLease(core, ino, 'exclusive', async (epoch) => {
    await flushIno(core, ino);
    const attr = await core.client.call('SetAttr', { cred, ino, ...changes, size });
    core.extents.invalidate(ino);
    return noteAttr(core, attr, epoch);
  });
}

export async function truncatePath(core: Core, ctx: OpContext, path: string, size: number): Promise<Attr> {
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  notePath(core, ino, path);
  return truncateIno(core, cred, ino, size);
}

export async function ftruncateFile(core: Core, ctx: OpContext, fh: number, size: number, changes: AttrChanges = {}): Promise<Attr> {
  const h = core.handles.get(fh);
  await reopen(core, h);
  return truncateIno(core, await credOf(core, ctx), h.ino, size, changes);
}

/** Reads into dest (which may alias kernel memory until the reply); returns the byte count. */
export async function readFile(core: Core, fh: number, offset: number, length: number, dest: Buffer): Promise<number> {
  const h = core.handles.get(fh);
  if ((h.flags & O_ACCMODE) !== O_RDONLY && (h.flags & O_ACCMODE) !== O_RDWR) throw new FsError('EBADF', 'file not open for reading');
  await reopen(core, h);
  return withLease(core, h.ino, 'shared', async (epoch) => {
    await sizeUnder(core, h.ino, epoch);
    return readLeased(core, h, offset, length, dest);
  });
}

/** Under a Shared lease, with core.serverSize current. */
async function readLeased(core: Core, h: Handle, offset: number, length: number, dest: Buffer): Promise<number> {
  const ino = h.ino;
  // Synchronously from here to the extent-map fetch: pending and serverSize agree (onWrote updates both in one tick).
  const serverSize = core.serverSize.get(ino) ?? 0;
  const size = Math.max(serverSize, core.writeback.dirtyEnd(ino));
  if (offset >= size || length <= 0) return 0;
  const len = Math.min(length, size - offset, dest.length);
  const pending = core.writeback.pending(ino, offset, len); // copies, before the extent map: see docs/AGENT.md
  const fromServer = Math.max(0, Math.min(len, serverSize - offset));
  if (fromServer > 0) await readObjects(core, ino, dest, offset, fromServer);
  if (fromServer < len) dest.fill(0, fromServer, len);
  for (const p of pending) {
    const from = Math.max(offset, p.fileOffset);
    const to = Math.min(offset + len, p.fileOffset + p.data.length);
    if (from < to) p.data.copy(dest, from - offset, from - p.fileOffset, to - p.fileOffset);
  }
  readAhead(core, h, ino, offset, len, serverSize);
  return len;
}

async function readObjects(core: Core, ino: Ino, out: Buffer, offset: number, length: number, retried = false): Promise<void> {
  const pieces = await core.extents.plan(ino, offset, length);
  // Not logged here: the agent whose write-back failed logged it once; a reader may ask again and again.
  const lost = pieces.find((p) => p.unstored);
  if (lost) throw new FsError('EIO', `inode ${ino}: bytes ${lost.fileOffset}..${lost.fileOffset + lost.length - 1} were never stored (their write-back failed); they read as EIO until rewritten or truncated away`);
  try {
    // allSettled: no piece may still be copying into `out` (kernel memory) once we reply.
    const results = await Promise.allSettled(pieces.map(async (p) => {
      if (!p.obj) {
        out.fill(0, p.fileOffset - offset, p.fileOffset - offset + p.length);
        return;
      }
      const bytes = await core.readCache.read(p.obj, p.objectOffset, p.length);
      bytes.copy(out, p.fileOffset - offset, 0, p.length);
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'PFS_ERR_OBJECT_MISSING' && !retried) {
      // The map may be stale (compaction moved the data): fetch it again once.
      core.extents.invalidate(ino);
      return readObjects(core, ino, out, offset, length, true);
    }
    core.log.error({ ino, offset, length, code, err: (err as Error).message }, 'read from the object store failed');
    throw new FsError('EIO', `inode ${ino} offset ${offset}: ${(err as Error).message}`);
  }
}

function readAhead(core: Core, h: { lastReadEnd: number; readAheadUntil: number }, ino: Ino, offset: number, len: number, serverSize: number): void {
  const sequential = offset === h.lastReadEnd;
  h.lastReadEnd = offset + len;
  const window = core.settings.readAheadBytes;
  if (!sequential || window <= 0) return;
  const from = Math.max(offset + len, h.readAheadUntil);
  const to = Math.min(serverSize, offset + len + window);
  if (from >= to || from - (offset + len) > window / 2) return;
  h.readAheadUntil = to;
  core.extents.plan(ino, from, to - from).then(
    (pieces) => { for (const p of pieces) if (p.obj) core.readCache.prefetch(p.obj, p.objectOffset, p.length); },
    () => undefined, // read-ahead is advisory; the read itself reports errors
  );
}

export async function writeFile(core: Core, fh: number, offset: number, data: Buffer): Promise<number> {
  const h = core.handles.get(fh);
  if ((h.flags & O_ACCMODE) === O_RDONLY) throw new FsError('EBADF', 'file not open for writing');
  await reopen(core, h);
  if (!(h.flags & O_APPEND)) {
    await withLease(core, h.ino, 'exclusive', async (epoch) => {
      checkLease(core, h.ino, epoch);
      await core.writeback.write(h.ino, offset, data);
    });
    return data.length;
  }
  // O_APPEND: the offset is the end of the file, one append at a time; under Exclusive, so no
  // other agent appends in between (the size is asked again when the lease is new).
  // The guard is taken inside the queue step, never while waiting in the queue.
  const locks = core.appendQueue;
  const prev = locks.get(h.ino) ?? Promise.resolve();
  const mine = prev.then(() => withLease(core, h.ino, 'exclusive', async (epoch) => {
    await sizeUnder(core, h.ino, epoch);
    checkLease(core, h.ino, epoch);
    await core.writeback.write(h.ino, localSize(core, h.ino), data);
  }));
  const tail = mine.catch(() => undefined);
  locks.set(h.ino, tail);
  try {
    await mine;
  } finally {
    if (locks.get(h.ino) === tail) locks.delete(h.ino);
  }
  return data.length;
}

export async function fsyncFile(core: Core, fh: number): Promise<void> {
  await flushFile(core, fh);
}
