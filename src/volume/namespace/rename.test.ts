import assert from 'node:assert/strict';
import { test } from 'node:test';
import { O_CREAT, RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO } from '../../common/protocol/index.js';
import { ROOT, makeFixture, throwsCode } from './test-fixture.js';

function tree() {
  const fx = makeFixture();
  const { ns } = fx;
  const a = ns.mkdir(ROOT, ROOT_INO, 'a', 0o755, 0);
  const b = ns.mkdir(ROOT, a.ino, 'b', 0o755, 0);
  const c = ns.mkdir(ROOT, ROOT_INO, 'c', 0o755, 0);
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  const g = ns.create('m', ROOT, a.ino, 'g', 0o644, 0, O_CREAT);
  return { ...fx, a, b, c, f, g };
}

test('rename moves files and directories across directories, keeping nlink right', () => {
  const { ns, a, b, c } = tree();
  ns.rename(ROOT, a.ino, 'b', c.ino, 'b2', 0);
  assert.equal(ns.getattr(a.ino).nlink, 2);
  assert.equal(ns.getattr(c.ino).nlink, 3);
  assert.equal(ns.lookup(ROOT, b.ino, '..').ino, c.ino);
  ns.rename(ROOT, ROOT_INO, 'f', c.ino, 'f', 0);
  assert.equal(ns.getattr(ROOT_INO).nlink, 4);
  throwsCode(() => ns.lookup(ROOT, ROOT_INO, 'f'), 'ENOENT');
  assert.deepEqual(ns.check(), []);
});

test('rename replaces files and empty directories, refuses type changes and non-empty targets', () => {
  const { ns, a, b, c, f, g } = tree();
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'c', a.ino, 'g', 0), 'ENOTDIR');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'f', ROOT_INO, 'c', 0), 'EISDIR');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'c', ROOT_INO, 'a', 0), 'ENOTEMPTY');
  ns.rename(ROOT, ROOT_INO, 'c', a.ino, 'b', 0);
  throwsCode(() => ns.getattr(b.ino), 'ENOENT');
  assert.equal(ns.lookup(ROOT, a.ino, 'b').ino, c.ino);
  assert.equal(ns.getattr(ROOT_INO).nlink, 3);
  assert.equal(ns.getattr(a.ino).nlink, 3);
  ns.release('m', g.ino);
  ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'g', 0);
  throwsCode(() => ns.getattr(g.ino), 'ENOENT');
  assert.equal(ns.getattr(f.ino).nlink, 1);
  assert.deepEqual(ns.check(), []);
});

test('rename refuses to move a directory into itself and a target that is an ancestor', () => {
  const { ns, a, b } = tree();
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'a', b.ino, 'x', 0), 'EINVAL');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'a', a.ino, 'x', 0), 'EINVAL');
  const inner = ns.mkdir(ROOT, b.ino, 'inner', 0o755, 0);
  throwsCode(() => ns.rename(ROOT, inner.ino, '..', ROOT_INO, 'x', 0), 'EBUSY');
  // The target 'a' is an ancestor of the source's directory.
  throwsCode(() => ns.rename(ROOT, b.ino, 'inner', ROOT_INO, 'a', 0), 'ENOTEMPTY');
  throwsCode(() => ns.rename(ROOT, b.ino, 'inner', ROOT_INO, 'a', RENAME_EXCHANGE), 'EINVAL');
  assert.deepEqual(ns.check(), []);
});

test('rename onto another link of the same inode does nothing', () => {
  const { ns, f } = tree();
  ns.link(ROOT, f.ino, ROOT_INO, 'f2');
  ns.rename(ROOT, ROOT_INO, 'f', ROOT_INO, 'f2', 0);
  assert.equal(ns.lookup(ROOT, ROOT_INO, 'f').ino, f.ino);
  assert.equal(ns.lookup(ROOT, ROOT_INO, 'f2').ino, f.ino);
  assert.equal(ns.getattr(f.ino).nlink, 2);
  ns.rename(ROOT, ROOT_INO, 'f', ROOT_INO, 'f', 0);
  assert.deepEqual(ns.check(), []);
});

test('RENAME_NOREPLACE and RENAME_EXCHANGE', () => {
  const { ns, a, b, c, f, g } = tree();
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'g', RENAME_NOREPLACE), 'EEXIST');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'nope', RENAME_EXCHANGE), 'ENOENT');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'g', RENAME_EXCHANGE | RENAME_NOREPLACE), 'EINVAL');
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'g', 4), 'EINVAL');
  ns.rename(ROOT, ROOT_INO, 'f', a.ino, 'h', RENAME_NOREPLACE);
  ns.rename(ROOT, a.ino, 'h', a.ino, 'g', RENAME_EXCHANGE);
  assert.equal(ns.lookup(ROOT, a.ino, 'g').ino, f.ino);
  assert.equal(ns.lookup(ROOT, a.ino, 'h').ino, g.ino);
  // Exchange a directory with a file across directories: subdirectory counts move too.
  ns.rename(ROOT, ROOT_INO, 'c', a.ino, 'g', RENAME_EXCHANGE);
  assert.equal(ns.lookup(ROOT, a.ino, 'g').ino, c.ino);
  assert.equal(ns.lookup(ROOT, ROOT_INO, 'c').ino, f.ino);
  assert.equal(ns.getattr(ROOT_INO).nlink, 3);
  assert.equal(ns.getattr(a.ino).nlink, 4);
  assert.equal(ns.lookup(ROOT, c.ino, '..').ino, a.ino);
  // Exchange two non-empty directories.
  const e = ns.mkdir(ROOT, ROOT_INO, 'e', 0o755, 0);
  ns.mkdir(ROOT, e.ino, 'x', 0o755, 0);
  ns.rename(ROOT, ROOT_INO, 'e', a.ino, 'b', RENAME_EXCHANGE);
  assert.equal(ns.lookup(ROOT, e.ino, '..').ino, a.ino);
  assert.equal(ns.lookup(ROOT, ROOT_INO, 'e').ino, b.ino);
  assert.equal(ns.getattr(ROOT_INO).nlink, 4);
  assert.equal(ns.getattr(a.ino).nlink, 4);
  assert.deepEqual(ns.check(), []);
});
