// E2E: what the inode-based session does besides answering requests: kernel cache invalidation
// by node id (on the addon's notifier thread), getxattr(security.capability) answered by the
// addon for marked nodes, and the options it refuses rather than fake (no mount needed).
// Reproduce: npx tsc -p tsconfig.json && node --test dist/src/agent/fuse/binding/lowlevel/lowlevel-notify.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LlAddon } from './addon.js';
import { createLowLevelSession, FUSE_ROOT_ID, MemTree, type LowLevelSession } from './index.js';
import { fails, llSkipReason as reason, py, run, withSession } from './ll-test-support.js';
import { Reply } from './reply.js';
import type { LowLevelSessionOptions } from './session-options.js';

const WRITE3 = 'import sys\nwith open(sys.argv[1], "r+b") as f:\n    for i in range(3):\n        f.write(b"x"); f.flush()';

for (const reader of ['poll', 'thread'] as const) {
  test(`inode-based session (reader ${reader}): invalidation by node id, security.capability answered by the addon`, { skip: reason, timeout: 20_000 }, async () => {
    const tree = new MemTree();
    const ino = tree.file(FUSE_ROOT_ID, 'n', Buffer.from('old\n'));
    const other = tree.file(FUSE_ROOT_ID, 'other', Buffer.from('o\n'));
    tree.file(FUSE_ROOT_ID, 'gone', Buffer.from('g\n'));
    let session: LowLevelSession | undefined;
    // 60 s timeouts and keep_cache: the kernel answers from its caches until told otherwise.
    await withSession(reader, { attrS: 60, entryS: 60 }, tree, async (mnt, _seen, s) => {
      session = s;
      const n = join(mnt, 'n');
      assert.equal(await run('cat', [n]), 'old\n');
      tree.nodes.get(ino)!.data = Buffer.from('new\n'); // same size: only the pages are stale
      assert.equal(await run('cat', [n]), 'old\n');
      assert.equal(await s.invalidateInode(ino), true);
      assert.equal(await run('cat', [n]), 'new\n');
      assert.equal(await s.invalidateInode(ino, { attributesOnly: true }), true);
      assert.equal(await s.invalidateInode(987654), false, 'a node the kernel does not know');

      const gone = join(mnt, 'gone');
      await run('stat', [gone]);
      tree.remove(FUSE_ROOT_ID, 'gone');
      await run('stat', [gone]); // the cached name still answers
      assert.equal(await s.invalidateEntry(FUSE_ROOT_ID, 'gone'), true);
      await fails('stat', [gone]);
      assert.equal(await s.invalidateEntry(FUSE_ROOT_ID, 'never-looked-up'), false);

      // The kernel asks security.capability before each write; for a marked node the addon answers.
      s.markCapabilityAbsent(ino);
      await py(WRITE3, n);
      assert.ok(s.capabilityAnswers() >= 1, `answers: ${s.capabilityAnswers()}`);
      assert.equal(tree.calls.get('getxattr security.capability') ?? 0, 0, 'no handler call for the marked node');
      await py(WRITE3, join(mnt, 'other'));
      const asked = tree.calls.get('getxattr security.capability') ?? 0;
      assert.ok(asked >= 1, 'the unmarked node reaches the handler');
      s.clearCapability(ino);
      await py(WRITE3, n);
      assert.ok((tree.calls.get('getxattr security.capability') ?? 0) > asked, 'cleared: the handler is asked again');
      void other;
    });
    await assert.rejects(session!.invalidateInode(ino), { code: 'ENOTCONN' });
  });
}

test('inode-based session: a notification issued inside a handler does not block the JS thread (6.4)', { skip: reason, timeout: 20_000 }, async () => {
  const tree = new MemTree();
  const dir = tree.mkdir(FUSE_ROOT_ID, 'dir');
  tree.file(dir, 'x');
  let session: LowLevelSession | undefined;
  let notified: Promise<boolean> | undefined;
  let settledBeforeReply = false;
  await withSession('poll', { attrS: 60, entryS: 60 }, tree, async (mnt, _seen, s) => {
    session = s;
    await run('stat', [join(mnt, 'dir', 'x')]);
    // LOOKUP of dir/slow holds dir's lock in the kernel; INVAL_ENTRY of dir/x needs it. Written
    // on the JS thread it would deadlock; on the notifier thread it waits for the reply.
    await run('stat', [join(mnt, 'dir', 'slow')]).catch(() => undefined);
    assert.equal(await notified, true);
    assert.equal(settledBeforeReply, false);
  }, {}, (ops) => ({
    ...ops,
    lookup: (parent, name, r) => {
      if (name !== 'slow') return ops.lookup(parent, name, r);
      notified = session!.invalidateEntry(dir, 'x');
      let replied = false;
      void notified.then(() => (settledBeforeReply ||= !replied));
      setTimeout(() => { replied = true; r.err(2); }, 300);
    },
  }));
});

test('createLowLevelSession: refuses what it cannot do, formats the rest like createFuseMount', { skip: reason }, () => {
  const ops = new MemTree().llOps({ attrS: 0, entryS: 0 });
  const make = (o: LowLevelSessionOptions) => createLowLevelSession('/nonexistent-pfs-ll', ops, o);
  assert.throws(() => make({ readdirplus: true }), /readdirplus needs the own FUSE channel/);
  assert.throws(() => make({ maxWriteBytes: (1 << 20) + 4096 }), /max_write/);
  assert.equal(make({ maxWriteBytes: 1 << 20 }).optionArg, '-oauto_unmount,big_writes,max_write=1048576');
  assert.throws(() => make({ attrTimeoutMs: 1000 } as LowLevelSessionOptions), /attrTimeoutMs is libfuse high-level only/);
  assert.throws(() => make({ hardRemove: true } as LowLevelSessionOptions), /hardRemove is libfuse high-level only/);
  assert.throws(() => make({ fsname: 'bad name' }), /fsname/);
  assert.equal(make({}).optionArg, '-oauto_unmount,big_writes,max_write=131072');
  assert.equal(make({ fsname: 'pfs:v', subtype: 'pfs', allowOther: true, defaultPermissions: true, autoUnmount: false, maxReadBytes: 131072, maxBackground: 64 }).optionArg,
    '-ofsname=pfs:v,subtype=pfs,allow_other,default_permissions,big_writes,max_write=131072,max_read=131072,max_background=64');
  assert.throws(() => createLowLevelSession('/x', { ...ops, setlk: undefined }), /getlk and setlk come together/);
});

test('LlReply.dirPlus: refused, never faked (no READDIRPLUS without the own channel)', () => {
  const r = new Reply({ a: {} as LlAddon, live: new Map(), onError: () => undefined }, 7, 1, 4096);
  assert.throws(() => r.dirPlus([], 0), /cannot send READDIRPLUS/);
});

for (const reader of ['poll', 'thread'] as const) {
  test(`inode-based session (${reader} reader): maxWriteBytes 1 MiB brings 1 MiB write and read requests (the own channel, FUSE_MAX_PAGES)`, { skip: reason, timeout: 30_000 }, async () => {
    const tree = new MemTree();
    await withSession(reader, { attrS: 0, entryS: 0 }, tree, async (mnt, seen, s) => {
      assert.equal(s.maxRequestBytes, 1 << 20);
      await run('dd', ['if=/dev/zero', `of=${join(mnt, 'big')}`, 'bs=1M', 'count=4', 'oflag=direct', 'status=none']);
      await run('dd', [`if=${join(mnt, 'big')}`, 'of=/dev/null', 'bs=1M', 'iflag=direct', 'status=none']);
      // write(ino, fh, offset, data), read(ino, fh, offset, size)
      const writes = seen.calls.filter((c) => c.op === 'write').map((c) => (c.args[3] as Buffer).length);
      const reads = seen.calls.filter((c) => c.op === 'read').map((c) => c.args[3] as number);
      assert.deepEqual(writes, [1 << 20, 1 << 20, 1 << 20, 1 << 20], 'write request sizes');
      assert.ok(reads.some((n) => n === 1 << 20), `read request sizes: ${reads.join(' ')}`);
    }, { maxWriteBytes: 1 << 20, maxReadBytes: 1 << 20 });
  });
}
