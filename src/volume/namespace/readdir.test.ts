import assert from 'node:assert/strict';
import { test } from 'node:test';
import { O_CREAT, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from '../../common/protocol/index.js';
import type { Cred, DirEntry, Ino } from '../../common/protocol/index.js';
import type { Namespace } from './index.js';
import { ROOT, makeFixture, throwsCode } from './test-fixture.js';

function listAll(ns: Namespace, cred: Cred, ino: Ino, pageSize: number, plus = false): DirEntry[] {
  const out: DirEntry[] = [];
  let cookie = 0;
  for (;;) {
    const { entries, eof } = ns.readdir(cred, ino, cookie, pageSize, plus);
    out.push(...entries);
    if (eof) return out;
    assert.ok(entries.length > 0, 'a page that is not the last has entries');
    cookie = entries.at(-1)!.cookie;
  }
}

test('readdir lists . and .., then entries in creation order, in pages of any size', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  const names = ['c', 'a', 'b', 'e', 'd'];
  for (const n of names) ns.create('m', ROOT, d.ino, n, 0o644, 0, O_CREAT);
  const full = listAll(ns, ROOT, d.ino, 100);
  assert.deepEqual(full.map((e) => e.name), ['.', '..', ...names]);
  assert.deepEqual(full.map((e) => e.cookie), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(full[0].ino, d.ino);
  assert.equal(full[1].ino, ROOT_INO);
  for (const size of [0, 1, 2, 3, 6, 7, 8]) assert.deepEqual(listAll(ns, ROOT, d.ino, size), full, `page size ${size}`);
  assert.deepEqual(ns.readdir(ROOT, d.ino, 7, 10, false), { entries: [], eof: true });
  assert.equal(ns.readdir(ROOT, d.ino, 0, 7, false).eof, true);
  assert.equal(ns.readdir(ROOT, d.ino, 0, 6, false).eof, false);
  const root = listAll(ns, ROOT, ROOT_INO, 1);
  assert.deepEqual(root.slice(0, 2).map((e) => e.ino), [ROOT_INO, ROOT_INO]);
  throwsCode(() => ns.readdir(ROOT, full[2].ino, 0, 10, false), 'ENOTDIR');
  throwsCode(() => ns.readdir(ROOT, 999, 0, 10, false), 'ENOENT');
});

test('readdir plus carries attributes, . and .. included', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o750, 0);
  const f = ns.create('m', ROOT, d.ino, 'f', 0o600, 0, O_CREAT);
  const entries = listAll(ns, ROOT, d.ino, 2, true);
  assert.deepEqual(entries[0].attr, ns.getattr(d.ino));
  assert.deepEqual(entries[1].attr, ns.getattr(ROOT_INO));
  assert.deepEqual(entries[2].attr, f);
  assert.equal(entries[2].mode, S_IFREG | 0o600);
  assert.equal(entries[0].mode & S_IFMT, S_IFDIR);
  assert.equal(listAll(ns, ROOT, d.ino, 2, false)[2].attr, undefined);
});

test('readdir cookies are stable under concurrent inserts, removes and renames', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  const other = ns.mkdir(ROOT, ROOT_INO, 'other', 0o755, 0);
  for (let i = 0; i < 20; i++) ns.create('m', ROOT, d.ino, `f${i}`, 0o644, 0, O_CREAT);
  const seen: string[] = [];
  const touched = new Set(['f0', 'f8']);
  let cookie = 0;
  let round = 0;
  for (;;) {
    const { entries, eof } = ns.readdir(ROOT, d.ino, cookie, 3, false);
    seen.push(...entries.map((e) => e.name));
    if (eof) break;
    cookie = entries.at(-1)!.cookie;
    // Between pages: add, remove, rename within and out of the directory, and in from elsewhere.
    ns.create('m', ROOT, d.ino, `new${round}`, 0o644, 0, O_CREAT);
    const victim = `f${19 - round}`;
    if (!touched.has(victim)) { ns.unlink(ROOT, d.ino, victim); touched.add(victim); }
    if (round === 1) ns.rename(ROOT, d.ino, 'f0', d.ino, 'f0-renamed', 0); // f0 already listed: listed again under its new name
    if (round === 2) ns.rename(ROOT, d.ino, 'f8', other.ino, 'f8', 0);
    if (round === 3) {
      ns.create('m', ROOT, other.ino, 'in', 0o644, 0, O_CREAT);
      ns.rename(ROOT, other.ino, 'in', d.ino, 'in', 0);
    }
    round++;
  }
  assert.ok(round > 5);
  // Every entry present for the whole listing appears exactly once.
  for (let i = 0; i < 20; i++) {
    if (!touched.has(`f${i}`)) assert.equal(seen.filter((s) => s === `f${i}`).length, 1, `f${i} in ${seen.join(' ')}`);
  }
  assert.equal(new Set(seen).size, seen.length, `no duplicates: ${seen.join(' ')}`);
  assert.ok(seen.includes('f0-renamed') && seen.includes('in'), 'entries renamed in get new cookies');
  assert.ok(seen.includes(`new${round - 1}`));
  assert.deepEqual(ns.check(), []);
});

test('a renamed entry takes a new cookie; exchanged entries keep theirs', () => {
  const { ns } = makeFixture();
  const d = ns.mkdir(ROOT, ROOT_INO, 'd', 0o755, 0);
  ns.create('m', ROOT, d.ino, 'a', 0o644, 0, O_CREAT);
  ns.create('m', ROOT, d.ino, 'b', 0o644, 0, O_CREAT);
  const before = listAll(ns, ROOT, d.ino, 10);
  ns.rename(ROOT, d.ino, 'a', d.ino, 'b', 2 /* RENAME_EXCHANGE */);
  const swapped = listAll(ns, ROOT, d.ino, 10);
  assert.deepEqual(swapped.map((e) => [e.name, e.cookie]), before.map((e) => [e.name, e.cookie]));
  assert.equal(swapped[2].ino, before[3].ino);
  ns.rename(ROOT, d.ino, 'a', d.ino, 'c', 0);
  assert.deepEqual(listAll(ns, ROOT, d.ino, 10).map((e) => [e.name, e.cookie]).slice(2), [['b', 4], ['c', 5]]);
});
