/**
 * File data operations: open/create/release, read (extent plan + read cache + overlay of
 * unflushed writes, read-ahead for sequential readers), write (into writeback), flush, fsync,
 * truncate. See docs/AGENT.md for the ordering rules.
 */
import { FsError, errorCode } from '../../common/errors/index.js';
import { O_ACCMODE, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, type Attr, type Ino } from '../../common/protocol/index.js';
import { credOf, localSize, noteAttr, resolve, splitPath, type Core } from './core.js';
import type { OpContext } from './creds.js';

function track(core: Core, attr: Attr): void {
  core.serverSize.set(attr.ino, attr.size);
}

export async function openFile(core: Core, ctx: OpContext, path: string, flags: number): Promise<number> {
  const cred = await credOf(core, ctx);
  const ino = await resolve(core, cred, path);
  if (flags & O_TRUNC) await flushIno(core, ino);
  const attr = await core.client.call('Open', { cred, ino, flags });
  core.extents.invalidate(ino); // close-to-open: another agent may have written since we cached
  track(core, attr);
  return core.handles.add(ino, flags);
}

export async function createFile(core: Core, ctx: OpContext, path: string, mode: number, flags: number | null): Promise<number> {
  const cred = await credOf(core, ctx);
  const { parent, name } = splitPath(path);
  const parentIno = await resolve(core, cred, parent);
  const openFlags = flags ?? (O_CREAT | O_RDWR);
  const attr = await core.client.call('Create', { cred, parent: parentIno, name, mode: mode & 0o7777, umask: 0, flags: openFlags });
  core.paths.set(path, attr.ino);
  core.extents.invalidate(attr.ino);
  track(core, attr);
  return core.handles.add(attr.ino, openFlags);
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
  await core.client.call('Release', { ino: h.ino }).catch((err) => {
    core.log.warn({ ino: h.ino, code: errorCode(err) }, 'Release failed; the server drops the open reference when the mount goes');
  });
  if (core.handles.openCount(h.ino) === 0) core.serverSize.delete(h.ino);
  if (flushError) throw flushError;
}

export async function flushIno(core: Core, ino: Ino): Promise<void> {
  await core.writeback.flush(ino);
}

export async function fgetattr(core: Core, fh: number): Promise<Attr> {
  const h = core.handles.get(fh);
  return noteAttr(core, await core.client.call('GetAttr', { ino: h.ino }));
}

export async function truncateIno(core: Core, ctx: OpContext, ino: Ino, size: number): Promise<Attr> {
  const cred = await credOf(core, ctx);
  await flushIno(core, ino);
  const attr = await core.client.call('SetAttr', { cred, ino, size });
  core.extents.invalidate(ino);
  return noteAttr(core, attr);
}

/** Reads into dest (which may alias kernel memory until the reply); returns the byte count. */
export async function readFile(core: Core, fh: number, offset: number, length: number, dest: Buffer): Promise<number> {
  const h = core.handles.get(fh);
  if ((h.flags & O_ACCMODE) !== O_RDONLY && (h.flags & O_ACCMODE) !== O_RDWR) throw new FsError('EBADF', 'file not open for reading');
  const ino = h.ino;
  const pending = core.writeback.pending(ino); // before the extent map: see docs/AGENT.md
  const serverSize = core.serverSize.get(ino) ?? 0;
  let size = Math.max(serverSize, core.writeback.dirtyEnd(ino));
  for (const p of pending) size = Math.max(size, p.fileOffset + p.data.length);
  if (offset >= size || length <= 0) return 0;
  const len = Math.min(length, size - offset, dest.length);
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
  if (!(h.flags & O_APPEND)) {
    await core.writeback.write(h.ino, offset, data);
    return data.length;
  }
  // O_APPEND: the offset is the end of the file as this agent sees it, one append at a time.
  const locks = core.appendQueue;
  const prev = locks.get(h.ino) ?? Promise.resolve();
  const mine = prev.then(() => core.writeback.write(h.ino, localSize(core, h.ino), data));
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
  await flushIno(core, core.handles.get(fh).ino);
}
