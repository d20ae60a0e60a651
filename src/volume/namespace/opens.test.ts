import assert from 'node:assert/strict';
import { test } from 'node:test';
import { O_CREAT, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY, ROOT_INO } from '../../common/protocol/index.js';
import { ROOT, makeFixture, throwsCode } from './test-fixture.js';

const count = (md: { db: { prepare(s: string): { get(...a: unknown[]): unknown } } }, sql: string, ...args: unknown[]) =>
  (md.db.prepare(sql).get(...args) as { n: number }).n;

test('an unlinked file lives until its last open on any mount is released', () => {
  const { ns, md, fileData } = makeFixture();
  const f = ns.create('m1', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT | O_RDWR);
  ns.open('m1', ROOT, f.ino, O_RDWR);
  ns.open('m2', ROOT, f.ino, O_RDWR);
  ns.unlink(ROOT, ROOT_INO, 'f');
  assert.equal(ns.getattr(f.ino).nlink, 0);
  assert.deepEqual(ns.check(), []);
  ns.noteWrite(f.ino, 10, { sec: 1, nsec: 0 }); // writes through open handles still land
  ns.release('m1', f.ino);
  ns.release('m2', f.ino);
  assert.equal(ns.getattr(f.ino).size, 10);
  assert.deepEqual(fileData.calls, []);
  ns.release('m1', f.ino);
  assert.deepEqual(fileData.calls, [`drop ${f.ino}`]);
  throwsCode(() => ns.getattr(f.ino), 'ENOENT');
  assert.equal(count(md, 'SELECT COUNT(*) AS n FROM opens'), 0);
  ns.release('m1', f.ino); // an unknown open is ignored
  assert.deepEqual(ns.check(), []);
});

test('a closed file is destroyed at unlink; other links keep it', () => {
  const { ns, fileData } = makeFixture();
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  ns.release('m', f.ino);
  ns.link(ROOT, f.ino, ROOT_INO, 'g');
  ns.unlink(ROOT, ROOT_INO, 'f');
  assert.equal(ns.getattr(f.ino).nlink, 1);
  assert.deepEqual(fileData.calls, []);
  ns.unlink(ROOT, ROOT_INO, 'g');
  assert.deepEqual(fileData.calls, [`drop ${f.ino}`]);
  const s = ns.symlink(ROOT, ROOT_INO, 's', 't');
  ns.unlink(ROOT, ROOT_INO, 's');
  throwsCode(() => ns.getattr(s.ino), 'ENOENT');
  assert.deepEqual(fileData.calls, [`drop ${f.ino}`], 'drop only for regular files');
});

test('rename over an open file keeps it until release', () => {
  const { ns, fileData } = makeFixture();
  const victim = ns.create('m', ROOT, ROOT_INO, 'victim', 0o644, 0, O_CREAT);
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT);
  ns.rename(ROOT, ROOT_INO, 'f', ROOT_INO, 'victim', 0);
  assert.equal(ns.lookup(ROOT, ROOT_INO, 'victim').ino, f.ino);
  assert.equal(ns.getattr(victim.ino).nlink, 0);
  assert.deepEqual(ns.check(), []);
  ns.release('m', victim.ino);
  assert.deepEqual(fileData.calls, [`drop ${victim.ino}`]);
});

test('dropMount releases every open of the mount and destroys orphans it held last', () => {
  const { ns, fileData, md } = makeFixture();
  const a = ns.create('gone', ROOT, ROOT_INO, 'a', 0o644, 0, O_CREAT);
  const b = ns.create('gone', ROOT, ROOT_INO, 'b', 0o644, 0, O_CREAT);
  ns.open('gone', ROOT, a.ino, O_RDWR);
  ns.open('stays', ROOT, b.ino, O_RDWR);
  const c = ns.create('gone', ROOT, ROOT_INO, 'c', 0o644, 0, O_CREAT);
  ns.unlink(ROOT, ROOT_INO, 'a');
  ns.unlink(ROOT, ROOT_INO, 'b');
  ns.dropMount('gone');
  assert.deepEqual(fileData.calls, [`drop ${a.ino}`]);
  assert.equal(ns.getattr(b.ino).nlink, 0);
  assert.equal(ns.getattr(c.ino).nlink, 1);
  assert.equal(count(md, "SELECT COUNT(*) AS n FROM opens WHERE mount_id = 'gone'"), 0);
  ns.dropMount('stays');
  assert.deepEqual(fileData.calls, [`drop ${a.ino}`, `drop ${b.ino}`]);
  assert.deepEqual(ns.check(), []);
});

test('create: O_EXCL, reopening an existing file, O_TRUNC, directories', () => {
  const { ns, fileData, md } = makeFixture();
  const f = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT | O_WRONLY);
  ns.noteWrite(f.ino, 100, { sec: 1, nsec: 0 });
  throwsCode(() => ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT | O_EXCL), 'EEXIST');
  const again = ns.create('m', ROOT, ROOT_INO, 'f', 0o600, 0, O_CREAT | O_WRONLY);
  assert.equal(again.ino, f.ino);
  assert.equal(again.size, 100);
  assert.equal(again.mode & 0o777, 0o644, 'mode of an existing file is untouched');
  const t = ns.create('m', ROOT, ROOT_INO, 'f', 0o644, 0, O_CREAT | O_WRONLY | O_TRUNC);
  assert.equal(t.size, 0);
  assert.deepEqual(fileData.calls, [`truncate ${f.ino} 100 0`]);
  assert.equal(count(md, 'SELECT count AS n FROM opens WHERE ino = ?', f.ino), 3);
  ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  throwsCode(() => ns.create('m', ROOT, ROOT_INO, 'd', 0o644, 0, O_CREAT), 'EISDIR');
  throwsCode(() => ns.create('m', ROOT, ROOT_INO, 'd', 0o644, 0, O_CREAT | O_EXCL), 'EEXIST');
  throwsCode(() => ns.open('m', ROOT, 4242, O_RDWR), 'ENOENT');
});

test('a failed operation changes nothing (the caller rolls back its transaction)', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  ns.mkdir(ROOT, d.ino, 'full', 0o755, 0);
  ns.create('m', ROOT, ROOT_INO, 'x', 0o644, 0, O_CREAT);
  throwsCode(() => ns.rename(ROOT, ROOT_INO, 'd', ROOT_INO, 'x', 0), 'ENOTDIR');
  throwsCode(() => ns.rmdir(ROOT, ROOT_INO, 'd'), 'ENOTEMPTY');
  assert.deepEqual(ns.check(), []);
});
