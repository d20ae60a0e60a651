// E2E: a real FUSE mount of a tiny in-memory filesystem. Needs root, /dev/fuse
// and Debian's libfuse2 + fuse (scripts/install-system-deps.sh fuse); skipped
// otherwise. All file I/O on the mount runs in child processes: fuse-native
// calls handlers on this process's main thread, so sync I/O here would deadlock.
// Reproduce: node --import tsx --test src/agent/fuse/binding/binding.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { contextAddonBuildScript } from './caller-context.js';
import { fuseSkipReason, sh } from './test-support.js';
import { createFuseMount, forceUnmount, isMounted, type CallerContext, type FuseOps, type FuseStat, type UtimensTime } from './index.js';

const ENOENT = -2;
const SLOW_READ_MS = 16_000; // beyond fuse-native's 15 s default handler timeout
const TIMED_OUT_READLINK_MS = 2_500; // beyond the 1 s per-op timeout set below

interface Seen {
  writeSizes: number[];
  created: Array<{ path: string; flags: number | null; ctx: CallerContext | null }>;
  utimens: Array<{ atime: UtimensTime; mtime: UtimensTime }>;
}

/** One directory holding: f (writable), hello (read-only), slow (read takes 16 s), link (readlink takes 2.5 s). */
function memoryFs(getContext: () => CallerContext | null, seen: Seen): FuseOps {
  const now = new Date();
  const files = new Map<string, { size: number; mode: number; uid: number; gid: number }>([
    ['/hello', { size: 6, mode: 0o100444, uid: 0, gid: 0 }],
  ]);
  const base = { atime: now, mtime: now, ctime: now };
  const stat = (path: string): FuseStat | null => {
    if (path === '/') return { ...base, mode: 0o40777, nlink: 2, size: 4096 };
    if (path === '/slow') return { ...base, mode: 0o100444, size: 5 };
    if (path === '/link') return { ...base, mode: 0o120777, size: 5 };
    const f = files.get(path);
    return f ? { ...base, mode: f.mode, size: f.size, uid: f.uid, gid: f.gid } : null;
  };
  return {
    getattr(path, reply) {
      // A slow getattr would also hold the directory lock (lookup) and stall every create.
      const st = stat(path);
      if (st) reply(0, st);
      else reply(ENOENT);
    },
    readdir(path, reply) {
      reply(0, ['slow', 'link', ...[...files.keys()].map((p) => p.slice(1))]);
    },
    readlink(path, reply) {
      setTimeout(() => reply(0, 'hello'), TIMED_OUT_READLINK_MS);
    },
    create(path, mode, flags, reply) {
      const ctx = getContext();
      seen.created.push({ path, flags, ctx });
      files.set(path, { size: 0, mode, uid: ctx?.uid ?? 0, gid: ctx?.gid ?? 0 });
      reply(0, 1);
    },
    open(path, flags, reply) {
      reply(files.has(path) || path === '/slow' ? 0 : ENOENT, 2);
    },
    truncate(path, size, done) {
      const f = files.get(path);
      if (f) f.size = size;
      done(f ? 0 : ENOENT);
    },
    read(path, fd, buf, len, pos, reply) {
      if (path === '/slow') {
        setTimeout(() => reply(Buffer.from('slow\n').subarray(pos, pos + len).copy(buf)), SLOW_READ_MS);
        return;
      }
      const data = Buffer.from(path === '/hello' ? 'hello\n' : '').subarray(pos, pos + len);
      data.copy(buf);
      reply(data.length);
    },
    write(path, fd, buf, len, pos, reply) {
      seen.writeSizes.push(len);
      const f = files.get(path)!;
      f.size = Math.max(f.size, pos + len);
      reply(len);
    },
    utimens(path, atime, mtime, done) {
      seen.utimens.push({ atime, mtime });
      done(0);
    },
    fsync: (_p, _ds, _fd, done) => done(0),
    flush: (_p, _fd, done) => done(0),
    release: (_p, _fd, done) => done(0),
  };
}

const reason = fuseSkipReason();

test('FUSE binding: big writes, mount options, caller context, exact utimens, handler timeouts', { skip: reason, timeout: 60_000 }, async () => {
  execFileSync(process.execPath, [contextAddonBuildScript()!, '--if-missing'], { stdio: 'inherit' });
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-binding-'));
  const seen: Seen = { writeSizes: [], created: [], utimens: [] };
  let getContext: () => CallerContext | null = () => null;
  const fuse = createFuseMount(mnt, memoryFs(() => getContext(), seen), {
    fsname: 'pfs:bindingtest',
    subtype: 'pfs',
    allowOther: true,
    maxReadBytes: 131072,
    maxBackground: 32,
    congestionThreshold: 24,
    attrTimeoutMs: 0,
    entryTimeoutMs: 0,
    negativeTimeoutMs: 0,
    handlerTimeouts: { defaultMs: false, perOpMs: { readlink: 1000 } },
    onHandlerError: (op, err) => assert.fail(`handler ${op}: ${String(err)}`),
  });
  getContext = () => fuse.callerContext();
  assert.ok(fuse.hasCallerContext, 'context addon loaded');
  try {
    await fuse.mount();
    assert.ok(await isMounted(mnt));

    // Started first: a 16 s read must succeed (no 15 s ETIMEDOUT) while the rest runs.
    const slow = sh('cat', [join(mnt, 'slow')]);
    const timedOut = sh('readlink', ['-v', join(mnt, 'link')]);

    const mounts = await readFile('/proc/mounts', 'utf8');
    const line = mounts.split('\n').find((l) => l.split(' ')[1] === mnt);
    assert.ok(line, `mount line for ${mnt}`);
    const [source, , type, opts] = line.split(' ');
    assert.equal(source, 'pfs:bindingtest');
    assert.equal(type, 'fuse.pfs');
    assert.ok(opts!.split(',').includes('allow_other'), opts);
    assert.ok(opts!.split(',').includes('max_read=131072'), opts);

    const dd = await sh('dd', ['if=/dev/zero', `of=${join(mnt, 'f')}`, 'bs=1M', 'count=64', 'conv=fsync']);
    assert.equal(dd.code, 0, dd.stderr);
    const total = seen.writeSizes.reduce((a, b) => a + b, 0);
    assert.equal(total, 64 * 1024 * 1024);
    assert.equal(Math.max(...seen.writeSizes), 131072, 'big_writes + max_write=131072');
    assert.ok(seen.writeSizes.filter((n) => n === 131072).length >= 500, `mostly 128 KiB writes: ${seen.writeSizes.length} writes`);

    const cat = await sh('cat', [join(mnt, 'hello')]);
    assert.equal(cat.stdout, 'hello\n');

    // The caller's uid/gid/pid reach create (setpriv execs touch in the same pid).
    const touch = await sh('setpriv', ['--reuid=65534', '--regid=65533', '--clear-groups', 'touch', join(mnt, 'byuser')]);
    assert.equal(touch.code, 0, touch.stderr);
    const byUser = seen.created.find((c) => c.path === '/byuser');
    assert.ok(byUser?.ctx, 'create saw a caller context');
    assert.deepEqual({ uid: byUser.ctx.uid, gid: byUser.ctx.gid, pid: byUser.ctx.pid }, { uid: 65534, gid: 65533, pid: touch.pid });
    assert.equal((byUser.flags ?? 0) & 0o100, 0o100, 'create flags include O_CREAT');

    // utimens: only mtime, to the ns; atime left alone (UTIME_OMIT).
    const tm = await sh('touch', ['-m', '-d', '@1000000000.123456789', join(mnt, 'f')]);
    assert.equal(tm.code, 0, tm.stderr);
    assert.deepEqual(seen.utimens.at(-1), { atime: null, mtime: { sec: 1000000000, nsec: 123456789 } });

    const rl = await timedOut;
    assert.notEqual(rl.code, 0);
    assert.match(rl.stderr, /timed out/i, 'per-op timeout answered ETIMEDOUT');
    const st = await slow;
    assert.equal(st.code, 0, `16 s read: ${st.stderr}`);
    assert.equal(st.stdout, 'slow\n');
  } finally {
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    assert.equal(await isMounted(mnt), false);
    await rm(mnt, { recursive: true, force: true });
  }
});

test('FUSE binding: a failed mount rejects and leaves nothing mounted', { skip: reason, timeout: 10_000 }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'pfs-binding-'));
  const mnt = join(base, 'missing');
  try {
    const fuse = createFuseMount(mnt, {}, {});
    await assert.rejects(fuse.mount(), /does not exist/);
    assert.equal(await isMounted(mnt), false);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
