/**
 * Real programs on a real mount: cp -a of a real tree and diff -r; dd of 1 GiB and sha256sum;
 * tar round trip; git init/add/commit/log/gc/fsck; sqlite3 with 10 000 inserts and
 * PRAGMA integrity_check (rollback journal and WAL); python random-access rewrites against a
 * model; mv, ln, ln -s, chmod, chown, touch -d, find, du, stat; a directory of 10 000 entries (500 on Swift and S3)
 * listed completely and removed. One agent for the file, each test in its own subdirectory,
 * every program a child process; the last test checks that SIGTERM exits 0 and unmounts.
 *
 * Reproduce: make build && node --test dist/test/e2e/programs.test.js
 * One test: node --test --test-name-pattern='sqlite3' dist/test/e2e/programs.test.js
 * Needs: fuse, libfuse2, sqlite3, git, python3, tar (scripts/install-system-deps.sh fuse sqlite tools).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { REPO, localTempDir, q, sh, startMount, type MountHandle } from '../support/agent.js';
import { testBackend } from '../support/backends.js';

const FSOPS = join(REPO, 'test/support/fsops.py');
/**
 * A real tree of about 1 300 entries (a quarter of them symlinks, nested directories), present on
 * every Debian (tzdata). It was /usr/share/doc, which grows with every package the test scripts
 * install (5 500 entries and 120 MB here, 3 minutes of the suite); the 1 GiB dd and the
 * 10 000-entry directory below cover size and breadth.
 * Against Swift and S3 (programs-swift/-s3.test.ts) a smaller real tree (~170 entries, nested
 * directories and links): each file's close waits for its PUT (close-to-open), ~20-50 ms on the
 * test Swift, so thousands of files would take minutes of the suite's budget without testing
 * anything more (the breadth of the tree is the local run's to cover).
 */
const BIG_TREE = testBackend() === 'local' ? '/usr/share/zoneinfo' : '/usr/share/zoneinfo/America';
const BIG_TREE_MIN_ENTRIES = testBackend() === 'local' ? 1000 : 100;
/**
 * Sizes: the local backend runs the full workloads; Swift and S3 run the same programs on
 * smaller ones (the data and metadata paths above the object store are the same code, and the
 * suite must fit its time budget three times over). The 2 GiB copy of swift-faults.test.ts
 * covers large files on Swift.
 */
const REMOTE = testBackend() !== 'local';
const DD_MIB = REMOTE ? 256 : 1024;
const DIR_ENTRIES = REMOTE ? 500 : 10000;
const REWRITES = REMOTE ? 400 : 2500;
/** A smaller real tree (~800 files, 6.5 MB): kernel UAPI headers from linux-libc-dev. */
const SMALL_TREE = '/usr/include/linux';

let m: MountHandle;
let local: { dir: string; remove(): void };

before(async () => {
  for (const tool of ['cp', 'diff', 'dd', 'sha256sum', 'tar', 'git', 'sqlite3', 'python3', 'find', 'du', 'stat', 'xargs']) {
    await sh(`command -v ${tool}`).catch(() => {
      throw new Error(`${tool} is not installed: run scripts/install-system-deps.sh fuse sqlite tools`);
    });
  }
  m = await startMount();
  local = localTempDir('pfs-programs-');
});

after(async () => {
  try {
    if (m) await m.cleanup();
  } finally {
    local?.remove();
  }
});

/** A fresh directory on the mount for one test (made by mkdir, a child process). */
async function testDir(name: string): Promise<string> {
  const d = join(m.mnt, name);
  await sh(`mkdir ${q(d)}`);
  return d;
}

/** One line per entry: relative path, type, mode, owner, size (not for directories), link target, mtime in seconds. */
async function listing(root: string): Promise<string[]> {
  const r = await sh(`cd ${q(root)} && find . -printf '%P|%y|%m|%U:%G|%s|%l|%T@\\n'`, { timeoutMs: 120_000 });
  return r.stdout.trim().split('\n').map((l) => {
    const [p, y, mode, owner, size, link, mtime] = l.split('|');
    return [p, y, mode, owner, y === 'd' ? '-' : size, link, Math.floor(Number(mtime))].join('|');
  }).sort();
}

test('cp -a of a real tree, then diff -r and the same names, types, modes, owners, sizes, links and mtimes', { timeout: 900_000 }, async () => {
  const d = await testDir('cp');
  // ~60 s on an idle 2-core machine; generous for a loaded one.
  await sh(`cp -a ${BIG_TREE} ${q(d)}/`, { timeoutMs: 420_000 });
  const dst = join(d, basename(BIG_TREE));
  // diff reads every file back through the agent: 30-60 s idle, over 120 s beside other suites.
  await sh(`diff -r --no-dereference ${BIG_TREE} ${q(dst)}`, { timeoutMs: 300_000 });
  const [want, got] = await Promise.all([listing(BIG_TREE), listing(dst)]);
  assert.ok(want.length > BIG_TREE_MIN_ENTRIES, `${BIG_TREE} has only ${want.length} entries`);
  assertSameListing(got, want);
});

/** Equal listings, or a failure naming how many entries differ and the first few of them. */
function assertSameListing(got: string[], want: string[]): void {
  const g = new Set(got);
  const w = new Set(want);
  const extra = got.filter((l) => !w.has(l));
  const missing = want.filter((l) => !g.has(l));
  if (extra.length === 0 && missing.length === 0) return;
  assert.fail(`${missing.length} of ${want.length} entries differ (path|type|mode|uid:gid|size|link|mtime s)\n` +
    `source: ${missing.slice(0, 8).join('\n        ')}\non pfs: ${extra.slice(0, 8).join('\n        ')}`);
}

test(`dd of ${DD_MIB} MiB in 1 MiB blocks (conv=fsync), then sha256sum equals the source`, { timeout: 300_000 }, async () => {
  const d = await testDir('dd');
  const src = join(local.dir, 'dd-src');
  await sh(`head -c ${DD_MIB}M /dev/urandom > ${q(src)}`);
  try {
    await sh(`dd if=${q(src)} of=${q(d)}/big bs=1M conv=fsync status=none`, { timeoutMs: 240_000 });
    assert.equal((await sh(`stat -c %s ${q(d)}/big`)).stdout.trim(), String(DD_MIB << 20));
    // Drop the kernel's page cache so the read goes through the agent (best effort: needs root).
    await sh('sync; echo 3 > /proc/sys/vm/drop_caches', { allowFail: true });
    const [a, b] = await Promise.all([
      sh(`sha256sum < ${q(src)}`, { timeoutMs: 120_000 }),
      sh(`sha256sum < ${q(d)}/big`, { timeoutMs: 240_000 }),
    ]);
    assert.equal(b.stdout, a.stdout, 'the file read back from the mount differs from the source');
    // A second read, with a different block size and an offset, through dd.
    const [c, e] = await Promise.all([
      sh(`dd if=${q(src)} bs=4k skip=1234 count=5000 status=none | sha256sum`),
      sh(`dd if=${q(d)}/big bs=4k skip=1234 count=5000 status=none | sha256sum`),
    ]);
    assert.equal(e.stdout, c.stdout, 'a 4 KiB-block read at an offset differs');
  } finally {
    await sh(`rm -f ${q(src)}`);
  }
});

/** The tar round trip copies its tree twice file by file: ~800 files locally, ~90 on Swift and S3. */
const TAR_TREE = testBackend() === 'local' ? SMALL_TREE : `${SMALL_TREE}/netfilter`;

test('tar: create from a tree on the mount, extract elsewhere on the mount, diff', { timeout: 180_000 }, async () => {
  const d = await testDir('tar');
  await sh(`cp -a ${TAR_TREE} ${q(d)}/src`);
  await sh(`cd ${q(d)} && tar -cf a.tar src && mkdir out && tar -C out -xf a.tar`);
  await sh(`diff -r --no-dereference ${q(d)}/src ${q(d)}/out/src`);
  await sh(`diff -r --no-dereference ${TAR_TREE} ${q(d)}/out/src`);
  // tar -d compares the archive with the extracted tree (sizes, modes, mtimes, contents).
  await sh(`cd ${q(d)}/out && tar -df ../a.tar`);
  // The archive itself, listed, names every file of the source tree.
  const lines = (s: string) => s.trim().split('\n').map((l) => l.replace(/\/$/, '')).sort();
  const names = lines((await sh(`tar -tf ${q(d)}/a.tar`)).stdout);
  const want = lines((await sh(`cd ${TAR_TREE}/.. && find ${basename(TAR_TREE)} | sed 's|^${basename(TAR_TREE)}|src|'`)).stdout);
  assert.deepEqual(names, want);
});

test('git init, add, commit, log, gc, fsck, clone', { timeout: 180_000 }, async () => {
  const d = await testDir('git');
  const env = { GIT_CONFIG_NOSYSTEM: '1', HOME: local.dir, GIT_AUTHOR_DATE: '2001-02-03T04:05:06Z', GIT_COMMITTER_DATE: '2001-02-03T04:05:06Z' };
  const git = `git -c user.name=pfs -c user.email=pfs@example.com -c init.defaultBranch=main`;
  const o = { cwd: join(d, 'repo'), env, timeoutMs: 120_000 };
  // ~100 files: git writes one loose object per file, each a create+write+fsync+rename.
  await sh(`${git} init -q repo && cp -a ${SMALL_TREE}/netfilter ${SMALL_TREE}/types.h ${SMALL_TREE}/version.h repo/`, { cwd: d, env });
  await sh(`${git} add -A && ${git} commit -qm one`, o);
  await sh(`echo change >> version.h && git mv types.h types-renamed.h && rm -r netfilter/ipset && ${git} commit -qam two`, o);
  await sh(`seq 1 1000 > numbers && ${git} add numbers && ${git} commit -qm three`, o);
  const log = (await sh(`${git} log --format=%s`, o)).stdout;
  assert.equal(log, 'three\ntwo\none\n');
  await sh(`${git} gc -q --aggressive`, o);
  const packs = (await sh('ls .git/objects/pack', o)).stdout;
  assert.match(packs, /\.pack$/m, 'git gc made no pack');
  await sh(`${git} fsck --full --strict`, o);
  assert.equal((await sh(`${git} status --porcelain`, o)).stdout, '', 'the work tree differs from HEAD');
  // A clone off the mount sees the same history and tree.
  const clone = join(local.dir, 'clone');
  await sh(`${git} clone -q ${q(join(d, 'repo'))} ${q(clone)}`, { env });
  const head = (await sh(`${git} rev-parse HEAD`, o)).stdout;
  assert.equal((await sh(`${git} rev-parse HEAD`, { cwd: clone, env })).stdout, head);
  await sh(`diff -r --exclude=.git ${q(join(d, 'repo'))} ${q(clone)}`);
});

function sqlScript(journal: string): string {
  const lines = [`PRAGMA journal_mode=${journal};`, 'CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB);'];
  for (let tx = 0; tx < 10; tx++) {
    lines.push('BEGIN;');
    for (let i = tx * 1000; i < (tx + 1) * 1000; i++) lines.push(`INSERT INTO t(k, v) VALUES ('key-${i}', randomblob(${(i * 37) % 2000}));`);
    lines.push('COMMIT;');
  }
  lines.push('DELETE FROM t WHERE id % 7 = 0;', 'UPDATE t SET v = randomblob(3000) WHERE id % 11 = 0;', 'CREATE INDEX t_v ON t(length(v));');
  return `${lines.join('\n')}\n`;
}

for (const journal of ['DELETE', 'WAL']) {
  test(`sqlite3 (journal_mode=${journal}): create, 10 000 inserts in 10 transactions, PRAGMA integrity_check`, { timeout: 180_000 }, async () => {
    const d = await testDir(`sqlite-${journal}`);
    const script = join(local.dir, `inserts-${journal}.sql`);
    writeFileSync(script, sqlScript(journal)); // outside the mount
    const db = q(join(d, 'db.sqlite'));
    await sh(`sqlite3 -bail ${db} < ${q(script)}`, { timeoutMs: 150_000 });
    const check = await sh(`sqlite3 ${db} 'PRAGMA integrity_check; SELECT count(*) FROM t; SELECT count(*) FROM t WHERE length(v) = 3000;'`);
    const deleted = Math.floor(10000 / 7);
    const updated = Array.from({ length: 10000 }, (_, i) => i + 1).filter((id) => id % 11 === 0 && id % 7 !== 0).length;
    assert.equal(check.stdout, `ok\n${10000 - deleted}\n${updated}\n`);
    await sh(`sqlite3 ${db} 'VACUUM; PRAGMA integrity_check;'`).then((r) => assert.equal(r.stdout.trim(), 'ok'));
  });
}

test('python random-access rewrites of a file match an in-memory model, during and after close and reopen', { timeout: 180_000 }, async () => {
  const d = await testDir('rewrite');
  for (const seed of [1, 2]) {
    const r = await sh(`python3 ${FSOPS} rewrite ${q(join(d, `f${seed}`))} ${seed} ${REWRITES} ${8 << 20}`, { timeoutMs: 150_000 });
    const out = JSON.parse(r.stdout) as { ok: boolean; sha256: string };
    assert.equal(out.ok, true);
    // The same program on the local disk ends with the same bytes.
    const ref = await sh(`python3 ${FSOPS} rewrite ${q(join(local.dir, `rewrite-${seed}`))} ${seed} ${REWRITES} ${8 << 20}`);
    assert.equal(out.sha256, (JSON.parse(ref.stdout) as { sha256: string }).sha256);
    assert.equal((await sh(`sha256sum < ${q(join(d, `f${seed}`))}`)).stdout.split(' ')[0], out.sha256);
  }
});

test('mv, ln, ln -s, chmod, chown, touch -d, find, du, stat', { timeout: 120_000 }, async () => {
  const d = await testDir('meta');
  const o = { cwd: d };
  const out = async (cmd: string) => (await sh(cmd, o)).stdout.trim();
  await sh('echo hello > a && mkdir dir1 dir2', o);
  await sh('mv a b', o);
  assert.equal(await out('test ! -e a && cat b'), 'hello');
  await sh('ln b c', o);
  assert.equal(await out('stat -c %h b'), '2');
  assert.equal(await out('stat -c %i b'), await out('stat -c %i c'), 'hard links have different inode numbers');
  await sh('ln -s b s && ln -s dangling s2', o);
  assert.equal(await out('readlink s'), 'b');
  assert.equal(await out('cat s'), 'hello');
  assert.equal(await out('stat -c %F s'), 'symbolic link');
  assert.equal(await out('stat -L -c %F s'), 'regular file');
  assert.equal((await sh('cat s2', { ...o, allowFail: true })).code, 1);
  await sh('chmod 640 b', o);
  assert.equal(await out('stat -c %a c'), '640');
  await sh('chmod u+s,g+x b', o);
  assert.equal(await out('stat -c %a b'), '4650');
  await sh('chown 1000:1000 b', o);
  assert.equal(await out('stat -c %u:%g c'), '1000:1000');
  assert.equal(await out('stat -c %a b'), '650', 'chown must clear set-user-ID and set-group-ID (as on ext4)');
  await sh('chown -h 1001:1002 s', o);
  assert.equal(await out('stat -c %u:%g s'), '1001:1002');
  assert.equal(await out('stat -c %u:%g b'), '1000:1000', 'chown -h on a symlink changed its target');
  await sh("touch -d '2001-02-03 04:05:06' b", o);
  assert.equal(await out('stat -c %Y b'), await out("date -d '2001-02-03 04:05:06' +%s"));
  await sh("touch -a -d '2002-01-01 00:00:00' b", o);
  assert.equal(await out('stat -c %X b'), await out("date -d '2002-01-01 00:00:00' +%s"));
  assert.equal(await out('stat -c %Y b'), await out("date -d '2001-02-03 04:05:06' +%s"), 'touch -a changed mtime');
  await sh('mv b dir1/ && mv dir1 dir2/ && mv c dir2/dir1/c', o);
  assert.equal(await out('find . | sort'), ['.', './dir2', './dir2/dir1', './dir2/dir1/b', './dir2/dir1/c', './s', './s2'].join('\n'));
  assert.equal(await out('find . -type l | sort'), './s\n./s2');
  assert.equal(await out('find . -type f ! -newermt 2001-02-04 | sort'), './dir2/dir1/b\n./dir2/dir1/c');
  assert.equal(await out('find . -newermt 2001-02-04 | sort'), '.\n./dir2\n./dir2/dir1\n./s\n./s2');
  await sh('head -c 1048576 /dev/urandom > dir2/big && sync dir2/big', o);
  assert.equal(await out('du -s --apparent-size -B1 dir2/big | cut -f1'), '1048576');
  const blocks = Number(await out('du -s -k dir2/big | cut -f1'));
  assert.ok(blocks >= 1024, `du -k reports ${blocks} KiB for a 1 MiB file (st_blocks too small)`);
  assert.equal(await out('stat -c %s:%F dir2/big'), '1048576:regular file');
  const statfs = await out('stat -f -c "%b %a %S" .');
  const [total, avail, bsize] = statfs.split(' ').map(Number);
  assert.ok(total > 0 && avail >= 0 && avail <= total && bsize > 0, `statfs: ${statfs}`);
  await sh('mv dir2/big dir2/dir1/b', o); // rename over an existing file
  assert.equal(await out('stat -c %s dir2/dir1/b'), '1048576');
  assert.equal(await out('cat dir2/dir1/c'), 'hello');
  assert.equal(await out('stat -c %h dir2/dir1/c'), '1');
  await sh('rm -r dir2 s s2', o);
  assert.equal(await out('ls -A | wc -l'), '0');
});

test(`a directory of ${DIR_ENTRIES} entries: created, listed completely by ls, find and python, removed`, { timeout: 300_000 }, async () => {
  const d = await testDir('big-dir');
  const o = { cwd: d, timeoutMs: 240_000 };
  const n = DIR_ENTRIES;
  await sh(`mkdir e && cd e && seq 1 ${n} | xargs -P 4 -n ${Math.ceil(n / 8)} touch`, o); // four creators at once in one directory
  const want = (await sh(`seq 1 ${n} | sort | sha256sum`)).stdout;
  assert.equal((await sh('ls e | wc -l', o)).stdout.trim(), String(n));
  assert.equal((await sh('ls e | sort | sha256sum', o)).stdout, want, 'ls lists other names than were created');
  assert.equal((await sh('ls -f e | wc -l', o)).stdout.trim(), String(n + 2), `unsorted readdir: ${n} names plus . and ..`);
  assert.equal((await sh('find e -type f | wc -l', o)).stdout.trim(), String(n));
  const py = await sh(`python3 -c "import os; l = os.listdir('e'); print(len(l), len(set(l)))"`, o);
  assert.equal(py.stdout.trim(), `${n} ${n}`, 'os.listdir: missing or duplicate names');
  // Removing while reading the directory is the classic cookie bug: rm -r must remove everything.
  await sh('rm -r e', o);
  assert.equal((await sh('ls -A | wc -l', o)).stdout.trim(), '0');
});

test('SIGTERM after the workload: pfsagentd exits 0 and the mount is gone', { timeout: 120_000 }, async () => {
  await m.stop();
  assert.doesNotMatch(m.stderr(), /"level":(50|60)/, 'the agent logged errors during the workload');
});
