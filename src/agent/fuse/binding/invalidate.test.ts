// E2E: kernel cache invalidation (invalidateInode / invalidateEntry) on a real
// FUSE mount that caches as much as it can: attr_timeout and entry_timeout of
// 60 s and kernel_cache (pages survive across opens). The filesystem changes
// behind the kernel's back (as another agent's write would look), and only the
// invalidation makes the change visible. Needs root, /dev/fuse, Debian's
// libfuse2 + fuse and the context addon; skipped otherwise. All I/O on the mount
// runs in child processes.
// Reproduce: node --import tsx --test src/agent/fuse/binding/invalidate.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { contextAddonBuildScript } from './caller-context.js';
import { fuseSkipReason, sh, startChild, withFuseMount } from './test-support.js';
import type { FuseMount, FuseOps } from './index.js';

const ENOENT = -2;
const SLOW_LOOKUP_MS = 1500;

interface Backing {
  files: Map<string, Buffer>;
  dirs: Set<string>;
  /** Set when getattr('/d/slow') starts (it answers after SLOW_LOOKUP_MS). */
  slowStarted: boolean;
}

function backedFs(b: Backing): FuseOps {
  const now = new Date();
  const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';
  return {
    getattr(path, reply) {
      if (path === '/d/slow') {
        b.slowStarted = true;
        setTimeout(() => reply(0, { mode: 0o100644, size: 0, atime: now, mtime: now, ctime: now }), SLOW_LOOKUP_MS);
        return;
      }
      if (b.dirs.has(path)) return reply(0, { mode: 0o40755, nlink: 2, size: 4096, atime: now, mtime: now, ctime: now });
      const data = b.files.get(path);
      if (data) return reply(0, { mode: 0o100644, size: data.length, atime: now, mtime: now, ctime: now });
      return reply(ENOENT);
    },
    readdir(path, reply) {
      const names = [...b.files.keys(), ...b.dirs].filter((p) => p !== '/' && parentOf(p) === path);
      reply(0, names.map((p) => p.slice(p.lastIndexOf('/') + 1)));
    },
    open: (path, _flags, reply) => reply(b.files.has(path) ? 0 : ENOENT, 3),
    read(path, _fd, buf, len, pos, reply) {
      const data = (b.files.get(path) ?? Buffer.alloc(0)).subarray(pos, pos + len);
      data.copy(buf);
      reply(data.length);
    },
    release: (_p, _fd, done) => done(0),
  };
}

async function withCachingMount(b: Backing, body: (mnt: string, fuse: FuseMount) => Promise<void>): Promise<void> {
  await withFuseMount('pfs-inval-', backedFs(b), { attrTimeoutMs: 60_000, entryTimeoutMs: 60_000, kernelCache: true }, body, (fuse) => assert.ok(fuse.canInvalidate));
}

const backing = (files: Record<string, string>): Backing => ({
  files: new Map(Object.entries(files).map(([p, d]) => [p, Buffer.from(d)])),
  dirs: new Set(['/', '/d']),
  slowStarted: false,
});

const reason = fuseSkipReason();

test('invalidate: setup', { skip: reason }, () => {
  execFileSync(process.execPath, [contextAddonBuildScript()!, '--if-missing'], { stdio: 'inherit' });
});

test('invalidateInode: new content and size are seen at once despite 60 s timeouts and kernel_cache', { skip: reason, timeout: 30_000 }, async () => {
  const b = backing({ '/same': 'AAAA', '/grow': '1234' });
  await withCachingMount(b, async (mnt, fuse) => {
    const same = join(mnt, 'same');
    const grow = join(mnt, 'grow');
    assert.equal((await sh('cat', [same])).stdout, 'AAAA');
    b.files.set('/same', Buffer.from('BBBB'));
    assert.equal((await sh('cat', [same])).stdout, 'AAAA', 'kernel_cache: the old pages are served');
    assert.equal(await fuse.invalidateInode('/same'), true);
    assert.equal((await sh('cat', [same])).stdout, 'BBBB');

    assert.equal((await sh('stat', ['-c', '%s', grow])).stdout.trim(), '4');
    b.files.set('/grow', Buffer.from('1234567890'));
    assert.equal((await sh('stat', ['-c', '%s', grow])).stdout.trim(), '4', 'attr_timeout: the old size is served');
    assert.equal(await fuse.invalidateInode('/grow', { attributesOnly: true }), true);
    assert.equal((await sh('stat', ['-c', '%s', grow])).stdout.trim(), '10');
    assert.equal((await sh('cat', [grow])).stdout, '1234567890');

    assert.equal(await fuse.invalidateInode('/'), true, 'the root is always known');
    assert.equal(await fuse.invalidateInode('/missing'), false, 'nothing cached for a name that does not exist');
  });
});

test('invalidateEntry: a removed or renamed name disappears at once', { skip: reason, timeout: 30_000 }, async () => {
  const b = backing({ '/gone': 'x', '/d/old': 'y' });
  await withCachingMount(b, async (mnt, fuse) => {
    assert.equal((await sh('stat', [join(mnt, 'gone')])).code, 0);
    b.files.delete('/gone');
    assert.equal((await sh('stat', [join(mnt, 'gone')])).code, 0, 'entry_timeout: the removed name is still cached');
    assert.equal(await fuse.invalidateEntry('/', 'gone'), true);
    const st = await sh('stat', [join(mnt, 'gone')]);
    assert.notEqual(st.code, 0);
    assert.match(st.stderr, /No such file/);
    // The failed lookup left a negative dentry (always revalidated): it counts as cached.
    assert.equal(typeof (await fuse.invalidateEntry('/', 'gone')), 'boolean');
    assert.equal(await fuse.invalidateEntry('/', 'never-looked-up'), false, 'nothing cached under that name');

    assert.equal((await sh('stat', [join(mnt, 'd', 'old')])).code, 0);
    b.files.set('/d/new', b.files.get('/d/old')!);
    b.files.delete('/d/old');
    assert.equal((await sh('stat', [join(mnt, 'd', 'old')])).code, 0, 'the old name is still cached');
    assert.equal(await fuse.invalidateEntry('/d', 'old'), true);
    assert.notEqual((await sh('stat', [join(mnt, 'd', 'old')])).code, 0);
    assert.equal((await sh('cat', [join(mnt, 'd', 'new')])).stdout, 'y');
  });
});

test('invalidateEntry runs off the JS thread: it waits for a lookup in the same directory, which JS keeps serving', { skip: reason, timeout: 30_000 }, async () => {
  const b = backing({ '/d/x': 'x', '/other': 'other' });
  await withCachingMount(b, async (mnt, fuse) => {
    assert.equal((await sh('stat', [join(mnt, 'd', 'x')])).code, 0);
    const lookup = startChild('stat', [join(mnt, 'd', 'slow')]);
    while (!b.slowStarted) await new Promise((ok) => setTimeout(ok, 10));
    const t0 = Date.now();
    const inval = fuse.invalidateEntry('/d', 'x').then((found) => ({ found, ms: Date.now() - t0 }));
    const other = await sh('cat', [join(mnt, 'other')]);
    assert.equal(other.stdout, 'other', 'the JS thread keeps serving while the notification waits');
    const { found, ms } = await inval;
    assert.equal(found, true);
    assert.ok(ms >= SLOW_LOOKUP_MS - 500, `the kernel made INVAL_ENTRY wait for the lookup holding /d (${ms} ms)`);
    assert.equal((await lookup.done).code, 0);
  });
});

test('invalidate: bad arguments and an unmounted mount are refused', { skip: reason, timeout: 30_000 }, async () => {
  const b = backing({ '/f': 'f' });
  let mounted: FuseMount | undefined;
  await withCachingMount(b, async (_mnt, fuse) => {
    mounted = fuse;
    await assert.rejects(fuse.invalidateInode('f'), RangeError);
    await assert.rejects(fuse.invalidateInode('/d/../f'), RangeError);
    await assert.rejects(fuse.invalidateEntry('/', 'a/b'), RangeError);
    await assert.rejects(fuse.invalidateEntry('/', '..'), RangeError);
    await assert.rejects(fuse.invalidateInode('/f', { offset: -1 }), RangeError);
    await assert.rejects(fuse.invalidateEntry('/f', 'x'), { code: 'ENOTDIR' });
  });
  await assert.rejects(mounted!.invalidateInode('/f'), { code: 'ENOTCONN' });
});
