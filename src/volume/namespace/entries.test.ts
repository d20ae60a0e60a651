import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NAME_MAX, O_CREAT, O_RDWR, PATH_MAX, ROOT_INO, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
} from '../../common/protocol/index.js';
import { SCHEMA_VERSION, toNs } from '../metadata/index.js';
import { formatNamespace } from './index.js';
import { ALICE, ROOT, makeFixture, throwsCode } from './test-fixture.js';

test('format makes the root directory and refuses a second time', () => {
  const { md, ns } = makeFixture(0o755);
  const root = ns.getattr(ROOT_INO);
  assert.equal(root.mode, S_IFDIR | 0o755);
  assert.equal(root.nlink, 2);
  assert.equal(md.getMeta('next_ino'), '2');
  assert.equal(md.getMeta('schema_version'), String(SCHEMA_VERSION));
  assert.throws(() => formatNamespace(md, { uid: 0, gid: 0, mode: 0o755 }, { sec: 0, nsec: 0 }), { code: 'PFS_ERR_VOLUME_NOT_EMPTY' });
  assert.deepEqual(ns.check(), []);
});

test('mkdir, create, lookup, nlink of directories and files', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o777, 0o022);
  assert.equal(d.mode, S_IFDIR | 0o755);
  assert.equal(ns.getattr(ROOT_INO).nlink, 3);
  const f = ns.create('m1', ROOT, d.ino, 'f', 0o666, 0o022, O_CREAT | O_RDWR);
  assert.equal(f.mode, S_IFREG | 0o644);
  assert.equal(f.nlink, 1);
  assert.deepEqual(ns.lookup(ROOT, d.ino, 'f'), f);
  assert.equal(ns.lookup(ROOT, d.ino, '.').ino, d.ino);
  assert.equal(ns.lookup(ROOT, d.ino, '..').ino, ROOT_INO);
  assert.equal(ns.lookup(ROOT, ROOT_INO, '..').ino, ROOT_INO);
  throwsCode(() => ns.lookup(ROOT, d.ino, 'nope'), 'ENOENT');
  throwsCode(() => ns.lookup(ROOT, f.ino, 'x'), 'ENOTDIR');
  throwsCode(() => ns.lookup(ROOT, 999, 'x'), 'ENOENT');
  throwsCode(() => ns.mkdir(ROOT, ROOT_INO, 'd', 0o777, 0), 'EEXIST');
  throwsCode(() => ns.create('m1', ROOT, f.ino, 'x', 0o666, 0, O_CREAT), 'ENOTDIR');
  ns.mkdir(ROOT, d.ino, 'sub', 0o777, 0);
  assert.equal(ns.getattr(d.ino).nlink, 3);
  ns.rmdir(ROOT, d.ino, 'sub');
  assert.equal(ns.getattr(d.ino).nlink, 2);
  assert.deepEqual(ns.check(), []);
});

test('names: empty, slash, NUL, too long, dot and dot-dot', () => {
  const { ns } = makeFixture();
  throwsCode(() => ns.mkdir(ROOT, ROOT_INO, '', 0o777, 0), 'ENOENT');
  throwsCode(() => ns.mkdir(ROOT, ROOT_INO, 'a/b', 0o777, 0), 'EINVAL');
  throwsCode(() => ns.mkdir(ROOT, ROOT_INO, 'a\0b', 0o777, 0), 'EINVAL');
  throwsCode(() => ns.mkdir(ROOT, ROOT_INO, 'x'.repeat(NAME_MAX + 1), 0o777, 0), 'ENAMETOOLONG');
  ns.mkdir(ROOT, ROOT_INO, 'x'.repeat(NAME_MAX), 0o777, 0);
  // 'é' is two bytes of UTF-8: 128 of them are 256 bytes.
  throwsCode(() => ns.create('m', ROOT, ROOT_INO, 'é'.repeat(128), 0o644, 0, O_CREAT), 'ENAMETOOLONG');
  throwsCode(() => ns.lookup(ROOT, ROOT_INO, 'é'.repeat(128)), 'ENAMETOOLONG');
  ns.create('m', ROOT, ROOT_INO, 'é'.repeat(127), 0o644, 0, O_CREAT);
  for (const dot of ['.', '..']) {
    throwsCode(() => ns.mkdir(ROOT, ROOT_INO, dot, 0o777, 0), 'EEXIST');
    throwsCode(() => ns.symlink(ROOT, ROOT_INO, dot, 't'), 'EEXIST');
    throwsCode(() => ns.mknod(ROOT, ROOT_INO, dot, S_IFIFO | 0o644, 0, 0), 'EEXIST');
    throwsCode(() => ns.unlink(ROOT, ROOT_INO, dot), 'EISDIR');
    throwsCode(() => ns.create('m', ROOT, ROOT_INO, dot, 0o644, 0, O_CREAT), 'EISDIR');
  }
  throwsCode(() => ns.rmdir(ROOT, ROOT_INO, '.'), 'EINVAL');
  throwsCode(() => ns.rmdir(ROOT, ROOT_INO, '..'), 'ENOTEMPTY');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, '.', ROOT_INO, 'z', 0), 'EBUSY');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'x'.repeat(NAME_MAX), ROOT_INO, '..', 0), 'EBUSY');
});

test('symlink targets: empty, PATH_MAX, readlink', () => {
  const { ns } = makeFixture();
  throwsCode(() => ns.symlink(ROOT, ROOT_INO, 's', ''), 'ENOENT');
  throwsCode(() => ns.symlink(ROOT, ROOT_INO, 's', 'x'.repeat(PATH_MAX + 1)), 'ENAMETOOLONG');
  const long = ns.symlink(ROOT, ROOT_INO, 'long', 'x'.repeat(PATH_MAX));
  assert.equal(long.size, PATH_MAX);
  const s = ns.symlink(ALICE, ROOT_INO, 's', 'ünï/côdé');
  assert.equal(s.mode, S_IFLNK | 0o777);
  assert.equal(s.uid, ALICE.uid);
  assert.equal(s.size, Buffer.byteLength('ünï/côdé'));
  assert.equal(ns.readlink(s.ino), 'ünï/côdé');
  throwsCode(() => ns.readlink(ROOT_INO), 'EINVAL');
  throwsCode(() => ns.readlink(12345), 'ENOENT');
});

test('mknod: types, devices need root, directories refused', () => {
  const { ns } = makeFixture();
  const fifo = ns.mknod(ALICE, ROOT_INO, 'fifo', S_IFIFO | 0o666, 0o022, 7);
  assert.equal(fifo.mode, S_IFIFO | 0o644);
  assert.equal(fifo.rdev, 0);
  const reg = ns.mknod(ALICE, ROOT_INO, 'plain', 0o600, 0, 0);
  assert.equal(reg.mode & S_IFMT, S_IFREG);
  throwsCode(() => ns.mknod(ALICE, ROOT_INO, 'chr', S_IFCHR | 0o600, 0, 0x0501), 'EPERM');
  assert.equal(ns.mknod(ROOT, ROOT_INO, 'chr', S_IFCHR | 0o600, 0, 0x0501).rdev, 0x0501);
  throwsCode(() => ns.mknod(ROOT, ROOT_INO, 'dir', S_IFDIR | 0o755, 0, 0), 'EPERM');
  throwsCode(() => ns.mknod(ROOT, ROOT_INO, 'lnk', S_IFLNK | 0o755, 0, 0), 'EINVAL');
});

test('hard links: nlink, ctime, directories refused, unlinked source refused', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  const l = ns.link(ROOT, f.ino, d.ino, 'g');
  assert.equal(l.nlink, 2);
  assert.ok(toNs(l.ctime) > toNs(f.ctime));
  throwsCode(() => ns.link(ROOT, f.ino, d.ino, 'g'), 'EEXIST');
  throwsCode(() => ns.link(ROOT, d.ino, ROOT_INO, 'dd'), 'EPERM');
  throwsCode(() => ns.link(ROOT, 999, ROOT_INO, 'zz'), 'ENOENT');
  ns.unlink(ROOT, ROOT_INO, 'f');
  ns.unlink(ROOT, d.ino, 'g');
  assert.equal(ns.getattr(f.ino).nlink, 0); // still open on mount m
  throwsCode(() => ns.link(ROOT, f.ino, ROOT_INO, 'back'), 'ENOENT');
  throwsCode(() => ns.unlink(ROOT, ROOT_INO, 'd'), 'EISDIR');
  throwsCode(() => ns.rmdir(ROOT, ROOT_INO, 'nope'), 'ENOENT');
  assert.deepEqual(ns.check(), []);
});

test('entry changes set the parent mtime and ctime and the inode ctime', () => {
  const { ns } = makeFixture();
  const before = ns.getattr(ROOT_INO);
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  const after = ns.getattr(ROOT_INO);
  assert.ok(toNs(after.mtime) > toNs(before.mtime));
  assert.deepEqual(after.mtime, after.ctime);
  assert.deepEqual(f.crtime, f.mtime);
  ns.rename(ROOT, ROOT_INO, 'f', ROOT_INO, 'g', 0);
  const moved = ns.getattr(f.ino);
  assert.ok(toNs(moved.ctime) > toNs(f.ctime));
  assert.deepEqual(moved.mtime, f.mtime);
  assert.deepEqual(ns.getattr(ROOT_INO).mtime, moved.ctime);
});

test('statvfs reports virtual capacity minus use', () => {
  const { ns, fileData } = makeFixture();
  fileData.used = 4096 * 10 + 1;
  ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  const s = ns.statvfs();
  assert.equal(s.bsize, 4096);
  assert.equal(s.frsize, 4096);
  assert.equal(s.blocks - s.bfree, 11);
  assert.equal(s.bavail, s.bfree);
  assert.equal(s.files - s.ffree, 2);
  assert.equal(s.namemax, 255);
});

test('check reports broken invariants', () => {
  const { md, ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  const f = ns.create('m', ROOT, d.ino, 'f', 0o644, 0, O_CREAT);
  md.db.prepare('UPDATE inodes SET nlink = 5 WHERE ino = ?').run(f.ino);
  md.db.prepare('INSERT INTO dirents (parent, name, ino, cookie) VALUES (?, ?, ?, ?)').run(d.ino, 'ghost', 4242, 99);
  md.db.prepare('UPDATE inodes SET nlink = 7 WHERE ino = ?').run(ROOT_INO);
  const problems = ns.check();
  assert.ok(problems.some((p) => p.includes(`inode ${f.ino} has nlink 5`)), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('inode 4242 missing')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('cookie 99')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('directory 1 has nlink 7')), problems.join('\n'));
});

test('check finds directory cycles and unlinked inodes open nowhere', () => {
  const { md, ns } = makeFixture();
  const a = ns.mkdir(ROOT, ROOT_INO, 'a', 0o755, 0);
  const b = ns.mkdir(ROOT, a.ino, 'b', 0o755, 0);
  // Detach a from the root and hang it under its own child b.
  md.db.prepare('UPDATE dirents SET parent = ?, cookie = 3 WHERE ino = ?').run(b.ino, a.ino);
  md.db.prepare('UPDATE inodes SET next_cookie = 4 WHERE ino = ?').run(b.ino);
  md.db.prepare('UPDATE inodes SET nlink = 2 WHERE ino = ?').run(ROOT_INO);
  md.db.prepare('UPDATE inodes SET nlink = 3 WHERE ino = ?').run(b.ino);
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  ns.unlink(ROOT, ROOT_INO, 'f');
  md.db.prepare('DELETE FROM opens').run();
  const problems = ns.check();
  assert.ok(problems.some((p) => p.includes(`inode ${a.ino} is not reachable`)), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes(`inode ${f.ino} is unlinked and open nowhere`)), problems.join('\n'));
});
