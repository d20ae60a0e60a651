import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, R_OK, ROOT_INO, S_IFDIR, S_IFREG, S_ISGID, S_ISUID, S_ISVTX, W_OK, X_OK,
} from '../../common/protocol/index.js';
import { ALICE, BOB, CAROL, ROOT, makeFixture, throwsCode } from './test-fixture.js';

test('owner, group (supplementary too) and other classes; root bypass', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o640, 0, O_CREAT);
  ns.access(ALICE, f.ino, R_OK | W_OK);
  ns.access(BOB, f.ino, R_OK); // bob is in group 1000 through his supplementary groups
  throwsCode(() => ns.access(BOB, f.ino, W_OK), 'EACCES');
  throwsCode(() => ns.access(CAROL, f.ino, R_OK), 'EACCES');
  ns.access(CAROL, f.ino, 0); // F_OK
  ns.access(ROOT, f.ino, R_OK | W_OK);
  throwsCode(() => ns.access(ROOT, f.ino, X_OK), 'EACCES'); // root needs one x bit on files
  ns.setattr({ cred: ALICE, ino: f.ino, mode: 0o641 });
  ns.access(ROOT, f.ino, X_OK);
  throwsCode(() => ns.access(ALICE, f.ino, X_OK), 'EACCES'); // owner class decides, not other
  throwsCode(() => ns.access(ALICE, f.ino, 8), 'EINVAL');
  const d = ns.mkdir(ALICE, ROOT_INO, 'd', 0o000, 0);
  ns.access(ROOT, d.ino, R_OK | W_OK | X_OK); // search on directories is free for root
});

test('lookup needs search, create and remove need write+search on the parent', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ALICE, ROOT_INO, 'd', 0o755, 0);
  ns.create('m', ALICE, d.ino, 'f', 0o644, 0, O_CREAT);
  ns.lookup(CAROL, d.ino, 'f');
  throwsCode(() => ns.create('m', CAROL, d.ino, 'g', 0o644, 0, O_CREAT), 'EACCES');
  throwsCode(() => ns.mkdir(CAROL, d.ino, 'g', 0o755, 0), 'EACCES');
  throwsCode(() => ns.unlink(CAROL, d.ino, 'f'), 'EACCES');
  throwsCode(() => ns.mkdir(CAROL, d.ino, 'f', 0o755, 0), 'EEXIST'); // an existing name wins over EACCES
  ns.setattr({ cred: ALICE, ino: d.ino, mode: 0o766 });
  throwsCode(() => ns.lookup(CAROL, d.ino, 'f'), 'EACCES');
  assert.equal(ns.readdir(CAROL, d.ino, 0, 10, false).entries.length, 3); // read without search
  ns.setattr({ cred: ALICE, ino: d.ino, mode: 0o773 });
  throwsCode(() => ns.readdir(CAROL, d.ino, 0, 10, false), 'EACCES');
  ns.unlink(CAROL, d.ino, 'f');
  ns.mkdir(ROOT, d.ino, 'rootdir', 0o700, 0);
  ns.lookup(ROOT, d.ino, 'rootdir');
});

test('sticky directories: only the entry owner, the directory owner or root remove or rename away', () => {
  const { ns } = makeFixture();
  const tmp = ns.mkdir(ALICE, ROOT_INO, 'tmp', 0o1777, 0);
  assert.equal(tmp.mode, S_IFDIR | S_ISVTX | 0o777);
  ns.create('m', BOB, tmp.ino, 'bobs', 0o666, 0, O_CREAT);
  ns.create('m', CAROL, tmp.ino, 'carols', 0o666, 0, O_CREAT);
  throwsCode(() => ns.unlink(CAROL, tmp.ino, 'bobs'), 'EPERM');
  throwsCode(() => ns.rename(CAROL, tmp.ino, 'bobs', tmp.ino, 'mine', 0), 'EPERM');
  throwsCode(() => ns.rename(CAROL, tmp.ino, 'carols', tmp.ino, 'bobs', 0), 'EPERM'); // replacing bob's file
  ns.rename(CAROL, tmp.ino, 'carols', tmp.ino, 'carols2', 0);
  ns.rename(BOB, tmp.ino, 'bobs', tmp.ino, 'bobs2', 0);
  ns.unlink(ALICE, tmp.ino, 'bobs2'); // directory owner
  ns.unlink(ROOT, tmp.ino, 'carols2');
  ns.mkdir(BOB, tmp.ino, 'bobdir', 0o777, 0);
  throwsCode(() => ns.rmdir(CAROL, tmp.ino, 'bobdir'), 'EPERM');
  ns.rmdir(BOB, tmp.ino, 'bobdir');
});

test('setgid directories pass on their group, and S_ISGID to subdirectories', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'shared', 0o777, 0);
  ns.setattr({ cred: ROOT, ino: d.ino, gid: 500, mode: 0o2777 });
  const f = ns.create('m', CAROL, d.ino, 'f', 0o2755, 0, O_CREAT);
  assert.equal(f.gid, 500);
  assert.equal(f.uid, CAROL.uid);
  assert.equal(f.mode & S_ISGID, 0, 'S_ISGID|S_IXGRP dropped: carol is not in group 500');
  const sub = ns.mkdir(CAROL, d.ino, 'sub', 0o755, 0);
  assert.equal(sub.gid, 500);
  assert.equal(sub.mode, S_IFDIR | S_ISGID | 0o755);
  const g = ns.create('m', ROOT, d.ino, 'g', 0o2755, 0, O_CREAT);
  assert.equal(g.mode, S_IFREG | S_ISGID | 0o755);
  const plain = ns.mkdir(CAROL, ROOT_INO, 'plain', 0o6777, 0o022);
  assert.equal(plain.mode, S_IFDIR | 0o755, 'mkdir ignores S_ISUID/S_ISGID of its mode');
  assert.equal(plain.gid, CAROL.gid);
});

test('chmod: owner or root; a non-root owner outside the group loses S_ISGID', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  throwsCode(() => ns.setattr({ cred: BOB, ino: f.ino, mode: 0o777 }), 'EPERM');
  assert.equal(ns.setattr({ cred: ALICE, ino: f.ino, mode: 0o2755 }).mode, S_IFREG | 0o2755);
  ns.setattr({ cred: ROOT, ino: f.ino, gid: 500 });
  assert.equal(ns.setattr({ cred: ALICE, ino: f.ino, mode: 0o6755 }).mode, S_IFREG | S_ISUID | 0o755);
  assert.equal(ns.setattr({ cred: ROOT, ino: f.ino, mode: 0o6755 }).mode, S_IFREG | 0o6755);
});

test('chown: only root changes the owner; the owner changes the group to one of theirs', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', BOB, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  throwsCode(() => ns.setattr({ cred: BOB, ino: f.ino, uid: ALICE.uid }), 'EPERM');
  ns.setattr({ cred: BOB, ino: f.ino, uid: BOB.uid }); // a no-op chown by the owner is allowed
  throwsCode(() => ns.setattr({ cred: ALICE, ino: f.ino, uid: BOB.uid }), 'EPERM');
  assert.equal(ns.setattr({ cred: BOB, ino: f.ino, gid: 1000 }).gid, 1000);
  throwsCode(() => ns.setattr({ cred: BOB, ino: f.ino, gid: 1002 }), 'EPERM');
  throwsCode(() => ns.setattr({ cred: ALICE, ino: f.ino, gid: 1000 }), 'EPERM'); // not the owner
  const r = ns.setattr({ cred: ROOT, ino: f.ino, uid: 7, gid: 8 });
  assert.equal(r.uid, 7);
  assert.equal(r.gid, 8);
});

test('chown of a non-directory clears S_ISUID, and S_ISGID when group-executable, even by root', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', BOB, ROOT_INO, 'f', 0o6755, 0, O_CREAT);
  assert.equal(ns.setattr({ cred: ROOT, ino: f.ino, gid: 1000 }).mode, S_IFREG | 0o755);
  const g = ns.create('m', BOB, ROOT_INO, 'g', 0o6745, 0, O_CREAT); // S_ISGID without group exec
  assert.equal(ns.setattr({ cred: BOB, ino: g.ino, gid: 1000 }).mode, S_IFREG | 0o2745);
  ns.setattr({ cred: ROOT, ino: g.ino, gid: 1002 });
  assert.equal(ns.setattr({ cred: BOB, ino: g.ino, gid: 1001 }).mode, S_IFREG | 0o745, 'bob was not in the old group');
  const d = ns.mkdir(BOB, ROOT_INO, 'd', 0o755, 0);
  ns.setattr({ cred: BOB, ino: d.ino, mode: 0o2755 });
  assert.equal(ns.setattr({ cred: BOB, ino: d.ino, gid: 1000 }).mode, S_IFDIR | 0o2755);
});

test('utimens: now for owner or writers, explicit times for the owner only', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o664, 0, O_CREAT);
  const t = { sec: 1000, nsec: 5 };
  assert.deepEqual(ns.setattr({ cred: ALICE, ino: f.ino, atime: t, mtime: t }).mtime, t);
  ns.setattr({ cred: BOB, ino: f.ino, atime: 'now', mtime: 'now' }); // group write
  throwsCode(() => ns.setattr({ cred: BOB, ino: f.ino, mtime: t }), 'EPERM');
  throwsCode(() => ns.setattr({ cred: CAROL, ino: f.ino, mtime: 'now' }), 'EACCES');
  assert.deepEqual(ns.setattr({ cred: ROOT, ino: f.ino, atime: t }).atime, t);
});

test('truncate needs write permission, clears set-id bits for non-root, calls FileData', () => {
  const { ns, fileData } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o6775, 0, O_CREAT);
  ns.noteWrite(f.ino, 100, { sec: 5, nsec: 0 });
  ns.setattr({ cred: ROOT, ino: f.ino, mode: 0o6775 });
  throwsCode(() => ns.setattr({ cred: CAROL, ino: f.ino, size: 0 }), 'EACCES');
  throwsCode(() => ns.setattr({ cred: ROOT, ino: ROOT_INO, size: 0 }), 'EISDIR');
  assert.equal(ns.setattr({ cred: ROOT, ino: f.ino, size: 50 }).mode, S_IFREG | 0o6775);
  const a = ns.setattr({ cred: BOB, ino: f.ino, size: 10 });
  assert.equal(a.size, 10);
  assert.equal(a.blocks, 1);
  assert.equal(a.mode, S_IFREG | 0o775);
  assert.deepEqual(fileData.calls, [`truncate ${f.ino} 100 50`, `truncate ${f.ino} 50 10`]);
});

test('noteWrite grows size, sets mtime and ctime, keeps set-id bits (the kernel clears them for unprivileged writers)', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o6755, 0, O_CREAT);
  const t = { sec: 77, nsec: 1 };
  const a = ns.noteWrite(f.ino, 4096, t);
  assert.equal(a.size, 4096);
  assert.deepEqual(a.mtime, t);
  assert.deepEqual(a.ctime, t);
  assert.equal(a.mode, S_IFREG | 0o6755);
  assert.equal(ns.noteWrite(f.ino, 10, t).size, 4096);
  throwsCode(() => ns.noteWrite(ROOT_INO, 1, t), 'EINVAL');
});

test('open checks permission per access mode; O_TRUNC needs write; directories refuse writing', () => {
  const { ns } = makeFixture();
  const f = ns.create('m', ALICE, ROOT_INO, 'f', 0o604, 0, O_CREAT);
  ns.noteWrite(f.ino, 10, { sec: 1, nsec: 0 });
  ns.open('m', CAROL, f.ino, O_RDONLY);
  throwsCode(() => ns.open('m', CAROL, f.ino, O_WRONLY), 'EACCES');
  throwsCode(() => ns.open('m', CAROL, f.ino, O_RDWR), 'EACCES');
  throwsCode(() => ns.open('m', CAROL, f.ino, O_RDONLY | O_TRUNC), 'EACCES');
  throwsCode(() => ns.open('m', BOB, f.ino, O_RDONLY), 'EACCES'); // group class: no bits
  assert.equal(ns.open('m', ALICE, f.ino, O_WRONLY | O_TRUNC).size, 0);
  throwsCode(() => ns.open('m', ROOT, ROOT_INO, O_WRONLY), 'EISDIR');
  ns.open('m', ROOT, ROOT_INO, O_RDONLY);
  const s = ns.symlink(ROOT, ROOT_INO, 's', 'f');
  throwsCode(() => ns.open('m', ROOT, s.ino, O_RDONLY), 'ELOOP');
  // create without O_EXCL on an existing file is an open, with the same checks
  throwsCode(() => ns.create('m', CAROL, ROOT_INO, 'f', 0o666, 0, O_CREAT | O_WRONLY), 'EACCES');
  // a file just made is opened whatever its mode says
  ns.create('m', CAROL, ROOT_INO, 'zero', 0o000, 0, O_CREAT | O_RDWR);
});

test('renaming a directory to another parent needs write permission on the directory', () => {
  const { ns } = makeFixture();
  const a = ns.mkdir(CAROL, ROOT_INO, 'a', 0o777, 0);
  const b = ns.mkdir(CAROL, ROOT_INO, 'b', 0o777, 0);
  ns.mkdir(ALICE, a.ino, 'ro', 0o555, 0);
  throwsCode(() => ns.rename(CAROL, a.ino, 'ro', b.ino, 'ro', 0), 'EACCES');
  ns.rename(CAROL, a.ino, 'ro', a.ino, 'ro2', 0); // same parent: '..' does not change
  throwsCode(() => ns.rename(ALICE, a.ino, 'ro2', b.ino, 'ro', 0), 'EACCES'); // 0o555: not even its owner
  ns.rename(ROOT, a.ino, 'ro2', b.ino, 'ro', 0);
  assert.equal(ns.getattr(a.ino).nlink, 2);
  assert.equal(ns.getattr(b.ino).nlink, 3);
  assert.deepEqual(ns.check(), []);
});
