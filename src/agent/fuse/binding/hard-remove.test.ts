// E2E: hard_remove (unlink/rename over open files without .fuse_hidden files)
// and utimens 'now' vs explicit times, on a real FUSE mount of a tiny in-memory
// filesystem whose fd-based handlers go by the fd only. Needs root, /dev/fuse,
// Debian's libfuse2 + fuse and the context addon; skipped otherwise. All file
// I/O on the mount runs in child processes (python3, touch): fuse-native calls
// handlers on this process's main thread, so sync I/O here would deadlock.
// Reproduce: node --import tsx --test src/agent/fuse/binding/hard-remove.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { contextAddonBuildScript, loadContextAddon } from './caller-context.js';
import { fuseSkipReason, sh } from './test-support.js';
import { createFuseMount, forceUnmount, isMounted, type CallerContext, type FuseOps, type FuseStat, type UtimensTime } from './index.js';

const ENOENT = -2;
const EBADF = -9;
const EEXIST = -17;
const ENOTDIR = -20;
const EISDIR = -21;
const ENOTEMPTY = -39;

/** Runs a python3 script (argv[1] = mount point) that prints one JSON object. */
async function python(script: string, mnt: string): Promise<{ out: Record<string, unknown>; pid: number }> {
  const r = await sh('python3', ['-c', script, mnt]);
  assert.equal(r.code, 0, `python failed:\n${r.stderr}`);
  return { out: JSON.parse(r.stdout) as Record<string, unknown>, pid: r.pid };
}

interface Call {
  op: string;
  path: string;
  fd?: number;
  ctx?: CallerContext | null;
  to?: string;
}

interface Inode {
  mode: number;
  data: Buffer;
}

/** Names map to inodes; open handles (fd) map to inodes and keep them alive after unlink. */
function memoryFs(getContext: () => CallerContext | null, calls: Call[], utimens: Array<{ path: string; atime: UtimensTime; mtime: UtimensTime }>): FuseOps {
  const now = new Date();
  const names = new Map<string, Inode>([['/', { mode: 0o40777, data: Buffer.alloc(0) }]]);
  const handles = new Map<number, Inode>();
  let nextFd = 10;
  const stat = (n: Inode): FuseStat => ({
    mode: n.mode, size: n.data.length, nlink: n.mode & 0o40000 ? 2 : 1, uid: 0, gid: 0, atime: now, mtime: now, ctime: now,
  });
  const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';
  const children = (dir: string): string[] =>
    [...names.keys()].filter((p) => p !== '/' && parentOf(p) === dir).map((p) => p.slice(p.lastIndexOf('/') + 1));
  const openFd = (n: Inode): number => {
    const fd = nextFd++;
    handles.set(fd, n);
    return fd;
  };
  const record = (op: string, path: string, fd?: number, extra: Partial<Call> = {}): void => {
    calls.push({ op, path, fd, ...extra });
  };

  return {
    getattr(path, reply) {
      const n = names.get(path);
      if (n) reply(0, stat(n));
      else reply(ENOENT);
    },
    fgetattr(path, fd, reply) {
      record('fgetattr', path, fd, { ctx: getContext() });
      const n = handles.get(fd);
      if (n) reply(0, stat(n));
      else reply(EBADF);
    },
    opendir(path, _fhNotFlags, reply) {
      const n = names.get(path);
      if (!n) return reply(ENOENT);
      const fd = openFd(n);
      record('opendir', path, fd);
      return reply(0, fd);
    },
    releasedir(path, fd, done) {
      record('releasedir', path, fd);
      done(handles.delete(fd) ? 0 : EBADF);
    },
    readdir(path, reply) {
      const n = names.get(path);
      if (!n) return reply(ENOENT);
      if (!(n.mode & 0o40000)) return reply(ENOTDIR);
      return reply(0, ['.', '..', ...children(path)]);
    },
    create(path, mode, flags, reply) {
      if (names.has(path)) return reply(EEXIST);
      const n: Inode = { mode, data: Buffer.alloc(0) };
      names.set(path, n);
      const fd = openFd(n);
      record('create', path, fd);
      return reply(0, fd);
    },
    open(path, flags, reply) {
      const n = names.get(path);
      if (!n) return reply(ENOENT);
      const fd = openFd(n);
      record('open', path, fd);
      return reply(0, fd);
    },
    read(path, fd, buf, len, pos, reply) {
      record('read', path, fd);
      const n = handles.get(fd);
      if (!n) return reply(EBADF);
      const chunk = n.data.subarray(pos, pos + len);
      chunk.copy(buf);
      return reply(chunk.length);
    },
    write(path, fd, buf, len, pos, reply) {
      record('write', path, fd);
      const n = handles.get(fd);
      if (!n) return reply(EBADF);
      const end = pos + len;
      if (end > n.data.length) n.data = Buffer.concat([n.data, Buffer.alloc(end - n.data.length)]);
      buf.copy(n.data, pos, 0, len);
      return reply(len);
    },
    truncate(path, size, done) {
      record('truncate', path);
      const n = names.get(path);
      if (!n) return done(ENOENT);
      n.data = Buffer.concat([n.data, Buffer.alloc(Math.max(0, size - n.data.length))]).subarray(0, size);
      return done(0);
    },
    ftruncate(path, fd, size, done) {
      record('ftruncate', path, fd, { ctx: getContext() });
      const n = handles.get(fd);
      if (!n) return done(EBADF);
      n.data = Buffer.concat([n.data, Buffer.alloc(Math.max(0, size - n.data.length))]).subarray(0, size);
      return done(0);
    },
    fsync(path, datasync, fd, done) {
      record('fsync', path, fd, { ctx: getContext() });
      done(handles.has(fd) ? 0 : EBADF);
    },
    flush(path, fd, done) {
      record('flush', path, fd);
      done(handles.has(fd) ? 0 : EBADF);
    },
    release(path, fd, done) {
      record('release', path, fd);
      done(handles.delete(fd) ? 0 : EBADF);
    },
    unlink(path, done) {
      record('unlink', path);
      const n = names.get(path);
      if (!n) return done(ENOENT);
      if (n.mode & 0o40000) return done(EISDIR);
      names.delete(path);
      return done(0);
    },
    rename(src, dest, done) {
      record('rename', src, undefined, { to: dest });
      const n = names.get(src);
      if (!n) return done(ENOENT);
      names.set(dest, n);
      names.delete(src);
      return done(0);
    },
    mkdir(path, mode, done) {
      if (names.has(path)) return done(EEXIST);
      names.set(path, { mode: 0o40000 | mode, data: Buffer.alloc(0) });
      return done(0);
    },
    rmdir(path, done) {
      record('rmdir', path);
      if (!names.has(path)) return done(ENOENT);
      if (children(path).length > 0) return done(ENOTEMPTY);
      names.delete(path);
      return done(0);
    },
    utimens(path, atime, mtime, done) {
      utimens.push({ path, atime, mtime });
      done(names.has(path) ? 0 : ENOENT);
    },
  };
}

/** Calls on one handle after its file lost its name. */
function fdCallsAfter(calls: Call[], fd: number, afterOp: (c: Call) => boolean): Call[] {
  const at = calls.findIndex(afterOp);
  assert.ok(at >= 0, 'the unlink/rename was seen');
  return calls.slice(at + 1).filter((c) => c.fd === fd);
}

const UNLINK_OPEN_FILE = String.raw`
import json, os, sys
d = sys.argv[1]
out = {'lists': []}
p = os.path.join(d, 'victim')
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'named')
os.unlink(p)
out['exists_after_unlink'] = os.path.exists(p)
out['lists'].append(os.listdir(d))
out['written'] = os.pwrite(fd, b'hello world', 0)
out['read'] = os.pread(fd, 100, 0).decode()
out['size'] = os.fstat(fd).st_size
os.ftruncate(fd, 5)
out['size_after_truncate'] = os.fstat(fd).st_size
out['read_after_truncate'] = os.pread(fd, 100, 0).decode()
os.fsync(fd)
out['lists'].append(os.listdir(d))
os.close(fd)
out['lists'].append(os.listdir(d))
# rmdir of a directory whose only file is unlinked but still open (ENOTEMPTY with .fuse_hidden)
sub = os.path.join(d, 'sub')
os.mkdir(sub)
fd2 = os.open(os.path.join(sub, 'f'), os.O_RDWR | os.O_CREAT, 0o600)
os.unlink(os.path.join(sub, 'f'))
out['sub_list'] = os.listdir(sub)
os.rmdir(sub)
out['write_after_rmdir'] = os.write(fd2, b'xyz')
out['read_after_rmdir'] = os.pread(fd2, 10, 0).decode()
os.close(fd2)
# an open directory removed: its release comes without a path
d2 = os.path.join(d, 'gone')
os.mkdir(d2)
dfd = os.open(d2, os.O_RDONLY | os.O_DIRECTORY)
os.rmdir(d2)
os.close(dfd)
out['lists'].append(os.listdir(d))
print(json.dumps(out))
`;

const RENAME_OVER_OPEN_FILE = String.raw`
import json, os, sys
d = sys.argv[1]
out = {'lists': []}
dst = os.path.join(d, 'dst')
src = os.path.join(d, 'src')
fd = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'old data')
with open(src, 'wb') as f:
    f.write(b'new')
os.rename(src, dst)
out['lists'].append(os.listdir(d))
out['old_read'] = os.pread(fd, 100, 0).decode()
os.pwrite(fd, b'OLD', 0)
out['old_size'] = os.fstat(fd).st_size
os.fsync(fd)
os.close(fd)
out['lists'].append(os.listdir(d))
with open(dst, 'rb') as f:
    out['dst'] = f.read().decode()
print(json.dumps(out))
`;

const reason = fuseSkipReason({ python3: true });

test('FUSE binding: hardRemove, unlink/rename over open files, utimens now vs explicit', { skip: reason, timeout: 60_000 }, async (t) => {
  execFileSync(process.execPath, [contextAddonBuildScript()!, '--if-missing'], { stdio: 'inherit' });
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-hardremove-'));
  const calls: Call[] = [];
  const utimens: Array<{ path: string; atime: UtimensTime; mtime: UtimensTime }> = [];
  let getContext: () => CallerContext | null = () => null;
  const handlerErrors: string[] = [];
  const fuse = createFuseMount(mnt, memoryFs(() => getContext(), calls, utimens), {
    fsname: 'pfs:hardremove',
    subtype: 'pfs',
    hardRemove: true,
    attrTimeoutMs: 0,
    entryTimeoutMs: 0,
    negativeTimeoutMs: 0,
    onHandlerError: (op, err) => handlerErrors.push(`${op}: ${String(err)}`),
  });
  getContext = () => fuse.callerContext();
  assert.ok(fuse.hasCallerContext, 'context addon loaded');
  assert.ok(fuse.hardRemove);
  assert.match(fuse.optionArg, /(^-o|,)hard_remove(,|$)/);
  try {
    await fuse.mount();
    assert.ok(await isMounted(mnt));

    await t.test('unlink of an open file: fd I/O works, handlers get path "" and the fd, rmdir works', async () => {
      const rewritesBefore = loadContextAddon()!.getattrRewrites!();
      const { out, pid } = await python(UNLINK_OPEN_FILE, mnt);
      assert.equal(out.exists_after_unlink, false);
      assert.equal(out.written, 11);
      assert.equal(out.read, 'hello world');
      assert.equal(out.size, 11);
      assert.equal(out.size_after_truncate, 5);
      assert.equal(out.read_after_truncate, 'hello');
      assert.deepEqual(out.sub_list, []);
      assert.equal(out.write_after_rmdir, 3);
      assert.equal(out.read_after_rmdir, 'xyz');
      // fstat of the unlinked file: the kernel sent GETATTR without a handle; the addon added one.
      assert.ok(loadContextAddon()!.getattrRewrites!() > rewritesBefore, 'GETATTR got an open handle');
      for (const list of out.lists as string[][]) {
        assert.ok(!list.some((n) => n.startsWith('.fuse_hidden')), `no .fuse_hidden in ${JSON.stringify(list)}`);
        assert.ok(!list.includes('victim'));
      }
      assert.ok(!calls.some((c) => c.op === 'rename'), 'libfuse hid nothing (no rename to .fuse_hidden)');

      const fd = calls.find((c) => c.op === 'create' && c.path === '/victim')!.fd!;
      const after = fdCallsAfter(calls, fd, (c) => c.op === 'unlink' && c.path === '/victim');
      for (const c of after) assert.equal(c.path, '', `${c.op} on the unlinked file got path ''`);
      const ops = new Set(after.map((c) => c.op));
      for (const op of ['write', 'read', 'fgetattr', 'ftruncate', 'fsync', 'flush', 'release']) {
        assert.ok(ops.has(op), `${op} reached its handler for the unlinked file (saw ${[...ops].join(', ')})`);
      }
      // Caller context still works for a request whose path was NULL.
      for (const op of ['fsync', 'ftruncate']) {
        const c = after.find((x) => x.op === op)!;
        assert.equal(c.ctx?.pid, pid, `${op}: caller context of the python process`);
        assert.equal(c.ctx?.uid, 0);
      }

      const fd2 = calls.find((c) => c.op === 'create' && c.path === '/sub/f')!.fd!;
      const after2 = fdCallsAfter(calls, fd2, (c) => c.op === 'unlink' && c.path === '/sub/f');
      assert.ok(after2.some((c) => c.op === 'write'));
      for (const c of after2) assert.equal(c.path, '');
      assert.ok(calls.some((c) => c.op === 'rmdir' && c.path === '/sub'));

      const dfd = calls.find((c) => c.op === 'opendir' && c.path === '/gone')!.fd!;
      const afterDir = fdCallsAfter(calls, dfd, (c) => c.op === 'rmdir' && c.path === '/gone');
      assert.deepEqual(afterDir.map((c) => [c.op, c.path]), [['releasedir', '']]);
    });

    await t.test('rename over an open file: the old fd keeps the old inode, no .fuse_hidden', async () => {
      const { out } = await python(RENAME_OVER_OPEN_FILE, mnt);
      for (const list of out.lists as string[][]) {
        assert.ok(!list.some((n) => n.startsWith('.fuse_hidden')), `no .fuse_hidden in ${JSON.stringify(list)}`);
        assert.ok(list.includes('dst') && !list.includes('src'), JSON.stringify(list));
      }
      assert.equal(out.old_read, 'old data');
      assert.equal(out.old_size, 8);
      assert.equal(out.dst, 'new');
      const renames = calls.filter((c) => c.op === 'rename');
      assert.deepEqual(renames.map((c) => [c.path, c.to]), [['/src', '/dst']], 'only the real rename, nothing hidden');

      const fd = calls.find((c) => c.op === 'create' && c.path === '/dst')!.fd!;
      const after = fdCallsAfter(calls, fd, (c) => c.op === 'rename' && c.to === '/dst');
      for (const c of after) assert.equal(c.path, '', `${c.op} on the replaced file got path ''`);
      const ops = new Set(after.map((c) => c.op));
      for (const op of ['read', 'write', 'fsync', 'flush', 'release']) assert.ok(ops.has(op), `${op} seen (saw ${[...ops].join(', ')})`);
    });

    await t.test("utimens: touch → 'now', touch -d → explicit, -a/-m → the other omitted", async () => {
      const f = join(mnt, 't');
      const mk = await sh('python3', ['-c', 'import sys; open(sys.argv[1], "w").close()', f]);
      assert.equal(mk.code, 0, mk.stderr);
      const run = async (...args: string[]) => {
        const before = utimens.length;
        const r = await sh('touch', [...args, f]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(utimens.length, before + 1, `one utimens for touch ${args.join(' ')}`);
        return utimens.at(-1)!;
      };
      assert.deepEqual(await run(), { path: '/t', atime: 'now', mtime: 'now' });
      assert.deepEqual(await run('-d', '@1000000000.5'), {
        path: '/t', atime: { sec: 1000000000, nsec: 500000000 }, mtime: { sec: 1000000000, nsec: 500000000 },
      });
      assert.deepEqual(await run('-a'), { path: '/t', atime: 'now', mtime: null });
      assert.deepEqual(await run('-m', '-d', '@1234567890.000000001'), { path: '/t', atime: null, mtime: { sec: 1234567890, nsec: 1 } });
    });

    assert.deepEqual(handlerErrors, []);
  } finally {
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    assert.equal(await isMounted(mnt), false);
    await rm(mnt, { recursive: true, force: true });
  }
});
