import assert from 'node:assert/strict';
import { test } from 'node:test';
import { O_CREAT, ROOT_INO, S_IFIFO, XATTR_CREATE, XATTR_REPLACE } from '../../common/protocol/index.js';
import { toNs } from '../metadata/index.js';
import { ALICE, BOB, CAROL, ROOT, makeFixture, throwsCode } from './test-fixture.js';

const v = (s: string) => Buffer.from(s);

test('user.* xattrs: set, get, list, replace, remove, flags', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  ns.setxattr(ALICE, f.ino, 'user.a', v('1'), 0);
  const ctime = toNs(ns.getattr(f.ino).ctime);
  assert.ok(ctime > toNs(f.ctime));
  throwsCode(() => ns.setxattr(ALICE, f.ino, 'user.a', v('2'), XATTR_CREATE), 'EEXIST');
  throwsCode(() => ns.setxattr(ALICE, f.ino, 'user.b', v('2'), XATTR_REPLACE), 'ENODATA');
  ns.setxattr(ALICE, f.ino, 'user.a', v('22'), XATTR_REPLACE);
  ns.setxattr(ALICE, f.ino, 'user.b', Buffer.alloc(0), XATTR_CREATE);
  assert.deepEqual(ns.getxattr(CAROL, f.ino, 'user.a'), v('22'));
  assert.deepEqual(ns.getxattr(ALICE, f.ino, 'user.b'), Buffer.alloc(0));
  assert.deepEqual(ns.listxattr(CAROL, f.ino), ['user.a', 'user.b']);
  throwsCode(() => ns.getxattr(ALICE, f.ino, 'user.c'), 'ENODATA');
  ns.removexattr(ALICE, f.ino, 'user.a');
  throwsCode(() => ns.removexattr(ALICE, f.ino, 'user.a'), 'ENODATA');
  assert.deepEqual(ns.listxattr(ALICE, f.ino), ['user.b']);
  throwsCode(() => ns.setxattr(ALICE, f.ino, 'user.a', v('x'), 4), 'EINVAL');
  throwsCode(() => ns.setxattr(ALICE, 999, 'user.a', v('x'), 0), 'ENOENT');
});

test('xattr limits: name length, value size, namespaces', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  throwsCode(() => ns.setxattr(ROOT, f.ino, 'user.' + 'x'.repeat(251), v('1'), 0), 'ERANGE');
  ns.setxattr(ROOT, f.ino, 'user.' + 'x'.repeat(250), v('1'), 0);
  throwsCode(() => ns.setxattr(ROOT, f.ino, '', v('1'), 0), 'ERANGE');
  throwsCode(() => ns.setxattr(ROOT, f.ino, 'user.big', Buffer.alloc(65537), 0), 'E2BIG');
  ns.setxattr(ROOT, f.ino, 'user.big', Buffer.alloc(65536), 0);
  throwsCode(() => ns.setxattr(ROOT, f.ino, 'system.posix_acl_access', v('1'), 0), 'ENOTSUP');
  throwsCode(() => ns.getxattr(ROOT, f.ino, 'os2.x'), 'ENOTSUP');
  throwsCode(() => ns.setxattr(ROOT, f.ino, 'user.', v('1'), 0), 'EINVAL');
});

test('xattr permissions: read/write on the file, trusted and security for root', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o640, 0, O_CREAT);
  ns.setxattr(ALICE, f.ino, 'user.a', v('1'), 0);
  throwsCode(() => ns.setxattr(BOB, f.ino, 'user.a', v('2'), 0), 'EACCES');
  assert.deepEqual(ns.getxattr(BOB, f.ino, 'user.a'), v('1'));
  throwsCode(() => ns.getxattr(CAROL, f.ino, 'user.a'), 'EACCES');
  throwsCode(() => ns.removexattr(BOB, f.ino, 'user.a'), 'EACCES');
  throwsCode(() => ns.setxattr(ALICE, f.ino, 'trusted.t', v('1'), 0), 'EPERM');
  throwsCode(() => ns.setxattr(ALICE, f.ino, 'security.s', v('1'), 0), 'EPERM');
  ns.setxattr(ROOT, f.ino, 'trusted.t', v('t'), 0);
  ns.setxattr(ROOT, f.ino, 'security.s', v('s'), 0);
  throwsCode(() => ns.removexattr(ALICE, f.ino, 'trusted.t'), 'EPERM');
  throwsCode(() => ns.getxattr(ALICE, f.ino, 'trusted.t'), 'ENODATA');
  assert.deepEqual(ns.getxattr(CAROL, f.ino, 'security.s'), v('s'));
  assert.deepEqual(ns.listxattr(ALICE, f.ino), ['security.s', 'user.a']);
  assert.deepEqual(ns.listxattr(ROOT, f.ino), ['security.s', 'trusted.t', 'user.a']);
});

test('user.* xattrs only on files and directories; sticky directories belong to their owner', () => {
  const { ns } = makeFixture();
  const s = ns.symlink(ROOT, ROOT_INO, 's', 'f');
  const p = ns.mknod(ROOT, ROOT_INO, 'p', S_IFIFO | 0o666, 0, 0);
  throwsCode(() => ns.setxattr(ROOT, s.ino, 'user.a', v('1'), 0), 'EPERM');
  throwsCode(() => ns.setxattr(ROOT, p.ino, 'user.a', v('1'), 0), 'EPERM');
  throwsCode(() => ns.getxattr(ROOT, s.ino, 'user.a'), 'ENODATA');
  ns.setxattr(ROOT, s.ino, 'trusted.t', v('1'), 0);
  const d = ns.mkdir(ALICE, ROOT_INO, 'tmp', 0o1777, 0);
  throwsCode(() => ns.setxattr(BOB, d.ino, 'user.a', v('1'), 0), 'EPERM');
  ns.setxattr(ALICE, d.ino, 'user.a', v('1'), 0);
  assert.deepEqual(ns.getxattr(BOB, d.ino, 'user.a'), v('1'));
});

test('xattrs go with their inode', () => {
  const { ns, md } = makeFixture();
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  ns.setxattr(ROOT, f.ino, 'user.a', v('1'), 0);
  ns.release('m', f.ino);
  ns.unlink(ROOT, ROOT_INO, 'f');
  assert.equal((md.db.prepare('SELECT COUNT(*) AS n FROM xattrs').get() as { n: number }).n, 0);
});
