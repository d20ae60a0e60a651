// E2E: every op of the inode-based session (pfs_fuse_ll addon) reached by real programs in
// child processes, on a MemTree: namespace ops, every setattr field, symlinks, FIFOs, statfs,
// access, fsync(dir), xattrs with the size probe and ERANGE, flush/release lock owners.
// Needs root, /dev/fuse, libfuse2, fusermount, python3; skipped otherwise.
// Reproduce: npx tsc -p tsconfig.json && node --test dist/src/agent/fuse/binding/lowlevel/lowlevel-ops.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FUSE_ROOT_ID, MemTree } from './index.js';
import { fails, llSkipReason as reason, py, run, withSession } from './ll-test-support.js';

const XATTRS = `
import ctypes, errno, os, sys
p = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
os.setxattr(p, 'user.a', b'hello')
os.setxattr(p, 'user.big', b'v' * 300)
print(os.getxattr(p, 'user.a').decode(), len(os.getxattr(p, 'user.big')))
print(sorted(os.listxattr(p)))
try:
    os.setxattr(p, 'user.a', b'z', os.XATTR_CREATE)
except FileExistsError:
    print('EEXIST')
try:
    os.setxattr(p, 'user.none', b'z', os.XATTR_REPLACE)
except OSError as e:
    print(errno.errorcode[e.errno])
buf = ctypes.create_string_buffer(10)
n = libc.getxattr(p.encode(), b'user.big', None, 0)
r = libc.getxattr(p.encode(), b'user.big', buf, 10)
print(n, r, errno.errorcode[ctypes.get_errno()])
n = libc.listxattr(p.encode(), None, 0)
r = libc.listxattr(p.encode(), buf, 10)
print(n, r, errno.errorcode[ctypes.get_errno()])
os.removexattr(p, 'user.big')
try:
    os.getxattr(p, 'user.big')
except OSError as e:
    print(errno.errorcode[e.errno])
`;

for (const reader of ['poll', 'thread'] as const) {
  test(`inode-based session (reader ${reader}): every op through real programs`, { skip: reason, timeout: 30_000 }, async () => {
    const tree = new MemTree();
    const d = tree.mkdir(FUSE_ROOT_ID, 'd');
    tree.file(d, 'f', Buffer.from('data\n'));
    await withSession(reader, { attrS: 0, entryS: 0 }, tree, async (mnt, seen) => {
      const p = (...parts: string[]) => join(mnt, ...parts);
      const calls = (op: string) => seen.calls.filter((c) => c.op === op).map((c) => c.args);

      // mkdir, rmdir (ENOTEMPTY first)
      await run('mkdir', [p('d', 'sub')]);
      assert.equal(await run('stat', ['-c', '%F', p('d', 'sub')]), 'directory\n');
      await run('touch', [p('d', 'sub', 'x')]);
      assert.match(await fails('rmdir', [p('d', 'sub')]), /not empty/i);
      await run('rm', [p('d', 'sub', 'x')]);
      await run('rmdir', [p('d', 'sub')]);
      assert.equal(tree.resolve('/d/sub'), undefined);

      // symlink, readlink
      await run('ln', ['-s', 'd/f', p('link')]);
      assert.equal(await run('readlink', [p('link')]), 'd/f\n');
      assert.equal(await run('stat', ['-c', '%F %s', p('link')]), 'symbolic link 3\n');
      assert.equal(await run('cat', [p('link')]), 'data\n');

      // rename: in a directory, across directories, over an existing name
      await run('mv', [p('d', 'f'), p('d', 'g')]);
      await run('mv', [p('d', 'g'), p('h')]);
      await py('import sys; open(sys.argv[1], "w").write("other\\n")', p('other'));
      await run('mv', [p('other'), p('h')]);
      assert.equal(await run('cat', [p('h')]), 'other\n');
      assert.equal(await run('ls', ['-A', p('d')]), '');
      const hIno = tree.resolve('/h')!.ino;

      // link, unlink
      await run('ln', [p('h'), p('d', 'h2')]);
      assert.equal(await run('stat', ['-c', '%h %i', p('d', 'h2')]), `2 ${hIno}\n`);
      await run('rm', [p('d', 'h2')]);
      assert.equal(await run('stat', ['-c', '%h', p('h')]), '1\n');

      // mknod: a FIFO
      await run('mkfifo', [p('fifo')]);
      assert.equal(await run('stat', ['-c', '%F', p('fifo')]), 'fifo\n');
      assert.ok(calls('mknod').some((a) => ((a[2] as number) & 0o170000) === 0o010000), 'MKNOD with S_IFIFO');

      // setattr: mode, uid/gid, size without a handle, ns times, 'now'
      await run('chmod', ['600', p('h')]);
      await run('chown', ['1234:5678', p('h')]);
      await py('import os,sys; os.truncate(sys.argv[1], 3)', p('h'));
      await run('touch', ['-d', '@1000000000.123456789', p('h')]);
      await run('touch', [p('h')]);
      const sets = seen.setattr.filter((s) => s.ino === hIno);
      assert.equal((sets.find((s) => s.set.mode !== undefined)!.set.mode! & 0o7777), 0o600);
      assert.ok(sets.some((s) => s.set.uid === 1234 && s.set.gid === 5678), JSON.stringify(sets));
      assert.ok(sets.some((s) => s.set.size === 3 && s.fh === undefined), 'truncate(2): no handle');
      assert.ok(sets.some((s) => JSON.stringify(s.set) === JSON.stringify({ atime: { sec: 1000000000, nsec: 123456789 }, mtime: { sec: 1000000000, nsec: 123456789 } })));
      assert.ok(sets.some((s) => s.set.atime === 'now' && s.set.mtime === 'now'), 'touch: both times now');
      assert.equal(await run('stat', ['-c', '%a %u %g %s', p('h')]), '600 1234 5678 3\n');

      // write and read with dd (64 KiB blocks)
      await run('dd', ['if=/dev/zero', `of=${p('dd')}`, 'bs=65536', 'count=5', 'status=none']);
      assert.equal(tree.resolve('/dd')!.size, 327680);
      assert.equal(await run('sh', ['-c', `dd if=${p('dd')} bs=4096 skip=10 count=3 status=none | wc -c`]), '12288\n');

      // ls -l: every type
      const ls = await run('ls', ['-l', mnt]);
      assert.match(ls, /^p.* fifo$/m);
      assert.match(ls, /^l.* link -> d\/f$/m);
      assert.match(ls, /^d.* d$/m);

      // statfs, access
      assert.equal(await py('import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_bsize, s.f_blocks, s.f_files, s.f_namemax)', mnt), '4096 1048576 1048576 255\n');
      assert.equal(await py('import os,sys; print(os.access(sys.argv[1], os.X_OK), os.access(sys.argv[2], os.X_OK), os.access(sys.argv[1], os.R_OK | os.W_OK))', p('h'), p('d')), 'False True True\n');
      assert.ok(calls('access').length >= 3);

      // fsync, fdatasync, fsyncdir; flush and release carry the lock owner and the open flags
      await py('import os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nos.fsync(fd)\nos.fdatasync(fd)\nos.close(fd)\nd=os.open(sys.argv[2],os.O_RDONLY)\nos.fsync(d)\nos.close(d)', p('h'), p('d'));
      assert.deepEqual(calls('fsync').map((a) => a[2]), [false, true]);
      assert.equal(calls('fsyncdir').length, 1);
      const flush = calls('flush').at(-1)!;
      assert.match(flush[2] as string, /^[1-9][0-9]*$/, 'flush: the lock owner as a decimal string');
      const rel = calls('release').find((a) => a[0] === hIno && ((a[2] as number) & 3) === 2)!;
      assert.ok(rel, 'release with O_RDWR flags');
      assert.equal(rel[3], false);
      assert.ok(calls('opendir').length >= 1 && calls('releasedir').length >= 1);

      // xattrs: set/get/list/remove, XATTR_CREATE/REPLACE, the size-0 probe and ERANGE
      assert.equal(await py(XATTRS, p('h')), [
        'hello 300', "['user.a', 'user.big']", 'EEXIST', 'ENODATA', '300 -1 ERANGE', '16 -1 ERANGE', 'ENODATA', '',
      ].join('\n'));
    });
  });
}

test('inode-based session: handler mistakes are reported, a second reply is refused', { skip: reason, timeout: 20_000 }, async () => {
  const tree = new MemTree();
  const errors: Array<[string, string]> = [];
  await withSession('poll', { attrS: 0, entryS: 0 }, tree, async (mnt) => {
    await fails('stat', [join(mnt, 'twice')]);
    await fails('stat', [join(mnt, 'throws')]);
  }, { onHandlerError: (op, err) => errors.push([op, String(err)]) }, (ops) => ({
    ...ops,
    lookup: (parent, name, r) => {
      if (name === 'throws') throw new Error('boom');
      if (name !== 'twice') return ops.lookup(parent, name, r);
      r.err(2);
      r.err(2);
    },
  }));
  assert.deepEqual(errors, [['lookup', 'Error: second reply'], ['lookup', 'Error: boom']]);
});
