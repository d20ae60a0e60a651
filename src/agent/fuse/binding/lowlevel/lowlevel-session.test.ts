// E2E: the inode-based session (pfs_fuse_ll addon) serving a MemTree, checked with
// real programs in child processes (never sync I/O on the mount from this process: it serves
// it). Needs root, /dev/fuse, libfuse2, fusermount, python3; skipped otherwise.
// Reproduce: node --import tsx --test src/agent/fuse/binding/lowlevel/lowlevel-session.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { forceUnmount } from '../fuse-mount.js';
import { createRawSession, FUSE_ROOT_ID, MemTree } from './index.js';
import { eventually, llSkipReason as reason, py, run, withSession } from './ll-test-support.js';

for (const reader of ['thread', 'poll'] as const) {
  test(`inode-based session (reader ${reader}): lookup, getattr, readdir, read, create, write, ns times, ftruncate by handle, forget`, { skip: reason, timeout: 20_000 }, async () => {
    const tree = new MemTree();
    const dir = tree.mkdir(FUSE_ROOT_ID, 'dir');
    const names = Array.from({ length: 3000 }, (_, i) => `entry-${String(i).padStart(4, '0')}`);
    for (const n of names) tree.file(dir, n);
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    const bigIno = tree.file(FUSE_ROOT_ID, 'big', big);
    const helloIno = tree.file(FUSE_ROOT_ID, 'hello', Buffer.from('hello\n'));

    await withSession(reader, { attrS: 0, entryS: 0 }, tree, async (mnt, seen) => {
      // lookup + getattr: st_ino is the node id the tree chose, the size and type are the tree's.
      assert.equal(await run('stat', ['-c', '%i %s %F %h', join(mnt, 'hello')]), `${helloIno} 6 regular file 1\n`);
      assert.equal(await run('cat', [join(mnt, 'hello')]), 'hello\n');
      // readdir over several requests (the kernel asks for one page of dirents at a time here,
      // 3000 names are about 120 KiB): each continues at the offset of the last entry sent.
      assert.deepEqual((await run('ls', ['-1', join(mnt, 'dir')])).trim().split('\n'), names);
      assert.ok((tree.calls.get('readdir') ?? 0) > 2, `several readdir requests: ${tree.calls.get('readdir')}`);
      // read: 1 MiB in 128 KiB requests, compared by digest.
      const want = (await import('node:crypto')).createHash('sha256').update(big).digest('hex');
      assert.equal((await py('import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())', join(mnt, 'big'))).trim(), want);
      assert.equal(tree.nodes.get(bigIno)!.size, 1 << 20);
      // create + write (200 KiB) + close, read back by this process from the tree and by cat.
      await py('import os,sys\nfd=os.open(sys.argv[1],os.O_CREAT|os.O_WRONLY|os.O_EXCL,0o640)\nos.write(fd,b"x"*204800)\nos.close(fd)', join(mnt, 'dir', 'new'));
      const created = tree.resolve('/dir/new')!;
      assert.equal(created.size, 204800);
      assert.equal(created.mode, 0o100640);
      assert.equal((await run('wc', ['-c', join(mnt, 'dir', 'new')])).trim(), `204800 ${join(mnt, 'dir', 'new')}`);
      // Nanosecond timestamps both ways (fuse-native: whole ms).
      await run('touch', ['-m', '-d', '@1000000000.123456789', join(mnt, 'hello')]);
      assert.deepEqual(seen.setattr.at(-1)!.set, { mtime: { sec: 1000000000, nsec: 123456789 } });
      assert.equal(await run('stat', ['-c', '%.9Y', join(mnt, 'hello')]), '1000000000.123456789\n');
      // ftruncate reaches setattr with the handle: a mode-0 file opened O_CREAT|O_RDWR can be
      // authorized by its handle, not by its mode.
      await py('import os,sys\nfd=os.open(sys.argv[1],os.O_CREAT|os.O_RDWR,0)\nos.ftruncate(fd,12345)\nos.close(fd)', join(mnt, 'zero'));
      const trunc = seen.setattr.find((s) => s.set.size === 12345);
      assert.ok(trunc && trunc.fh !== undefined, `ftruncate carries the handle: ${JSON.stringify(seen.setattr)}`);
      assert.equal(tree.resolve('/zero')!.size, 12345);
      // unlink of the last name: the kernel evicts the inode and forgets every lookup it counted.
      const zeroIno = tree.resolve('/zero')!.ino;
      await run('rm', [join(mnt, 'zero')]);
      await eventually(() => seen.forgets.some(([ino]) => ino === zeroIno), 'FORGET after the last unlink');
      assert.equal(tree.nodes.get(zeroIno)!.lookups, 0, 'lookup count back to 0');
    });
  });

  test(`inode-based session (reader ${reader}): a hard link is one kernel node (issue 21)`, { skip: reason, timeout: 20_000 }, async () => {
    const tree = new MemTree();
    const a = tree.mkdir(FUSE_ROOT_ID, 'a');
    const b = tree.mkdir(FUSE_ROOT_ID, 'b');
    const ino = tree.file(a, 'f', Buffer.from('old data\n'));
    tree.add(b, 'g', 0, undefined, ino);
    // Long timeouts and keep_cache: the kernel serves both names from its caches.
    await withSession(reader, { attrS: 60, entryS: 60 }, tree, async (mnt) => {
      const f = join(mnt, 'a', 'f');
      const g = join(mnt, 'b', 'g');
      assert.equal(await run('stat', ['-c', '%i %h', f]), `${ino} 2\n`);
      assert.equal(await run('stat', ['-c', '%i %h', g]), `${ino} 2\n`);
      // Both names cached (pages too), then a write through one name is read at once through the other.
      assert.equal(await run('cat', [f]), 'old data\n');
      assert.equal(await run('cat', [g]), 'old data\n');
      await py('import sys\nwith open(sys.argv[1],"r+b") as f: f.write(b"NEW")', f);
      assert.equal(await run('cat', [g]), 'NEW data\n');
      // ln through the mount: the new name is the same node as well.
      await run('ln', [g, join(mnt, 'h')]);
      assert.equal(await run('stat', ['-c', '%i %h', join(mnt, 'h')]), `${ino} 3\n`);
      assert.equal(await run('cat', [join(mnt, 'h')]), 'NEW data\n');
      // python: os.stat of three names, one st_ino.
      const out = await py('import os,sys; print(len({os.stat(p).st_ino for p in sys.argv[1:]}))', f, g, join(mnt, 'h'));
      assert.equal(out.trim(), '1');
    });
  });
}

test('pure-JS /dev/fuse reader (comparison prototype): READDIRPLUS makes ls -l need no LOOKUP, a hard link is one node', { skip: reason, timeout: 20_000 }, async () => {
  const tree = new MemTree();
  const dir = tree.mkdir(FUSE_ROOT_ID, 'dir');
  for (let i = 0; i < 200; i++) tree.file(dir, `f${i}`, Buffer.from(`${i}\n`));
  const ino = tree.resolve('/dir/f7')!.ino;
  tree.add(FUSE_ROOT_ID, 'link7', 0, undefined, ino);
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-raw-'));
  const errors: unknown[] = [];
  const s = createRawSession(mnt, tree.llOps({ attrS: 60, entryS: 60 }), { readdirPlus: true, onHandlerError: (op, err) => errors.push([op, err]) });
  try {
    await s.mount();
    const lines = (await run('ls', ['-l', join(mnt, 'dir')])).trim().split('\n');
    assert.equal(lines.length, 201); // "total" and 200 entries
    assert.ok((tree.calls.get('readdirplus') ?? 0) >= 1);
    assert.equal(tree.calls.get('lookup') ?? 0, 1, 'only /dir itself was looked up');
    assert.equal(await run('stat', ['-c', '%i %h', join(mnt, 'link7')]), `${ino} 2\n`);
    await py('import sys\nwith open(sys.argv[1],"r+b") as f: f.write(b"X")', join(mnt, 'link7'));
    assert.equal(await run('cat', [join(mnt, 'dir', 'f7')]), 'X\n');
  } finally {
    await s.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
  assert.deepEqual(errors, []);
});
