// E2E: locks and interrupts on the inode-based session (MemTree + mem-locks): fcntl F_GETLK /
// F_SETLK / F_SETLKW with the kernel's lock owners, F_SETLKW interrupted by a signal (the
// kernel's FUSE_INTERRUPT aborts r.signal, the handler answers EINTR), flock with LOCK_NB, and
// the locks of a killed holder dropped at flush (POSIX) and release (flock_release).
// Reproduce: npx tsc -p tsconfig.json && node --test dist/src/agent/fuse/binding/lowlevel/lowlevel-locks.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startChild } from '../test-support.js';
import { FUSE_ROOT_ID, MemTree } from './index.js';
import { eventually, llSkipReason as reason, py, withSession } from './ll-test-support.js';

const HOLDER = `
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
fd2 = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
print('held', os.getpid(), flush=True)
time.sleep(60)
`;

const TESTER = `
import errno, fcntl, os, signal, struct, sys, time
FL = '=hhxxxxqqixxxx'
fd = os.open(sys.argv[1], os.O_RDWR)
t, _, start, ln, pid = struct.unpack(FL, fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FL, fcntl.F_WRLCK, 0, 5, 1, 0)))
print('getlk', t == fcntl.F_WRLCK, start, ln, pid)
print('free', struct.unpack(FL, fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FL, fcntl.F_RDLCK, 0, 10, 0, 0)))[0] == fcntl.F_UNLCK)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 5)
except OSError as e:
    print('setlk', errno.errorcode[e.errno])
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 10)
print('tail ok')
def on_alarm(*a):
    raise TimeoutError()
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.3)
t0 = time.time()
try:
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, 5)
    print('setlkw locked')
except TimeoutError:
    print('setlkw interrupted', time.time() - t0 < 5)
fd2 = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd2, fcntl.LOCK_SH | fcntl.LOCK_NB)
except BlockingIOError:
    print('flock busy')
`;

const AFTER = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)
fd2 = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
fcntl.flock(fd2, fcntl.LOCK_UN)
print('all free')
`;

for (const reader of ['poll', 'thread'] as const) {
  test(`inode-based session (reader ${reader}): fcntl locks, F_SETLKW interrupted by a signal, flock`, { skip: reason, timeout: 30_000 }, async () => {
    const tree = new MemTree();
    const ino = tree.file(FUSE_ROOT_ID, 'lk', Buffer.alloc(100));
    await withSession(reader, { attrS: 0, entryS: 0 }, tree, async (mnt, seen) => {
      const f = join(mnt, 'lk');
      const holder = startChild('python3', ['-c', HOLDER, f]);
      try {
        await holder.waitFor('held');
        const out = await py(TESTER, f);
        const pid = /getlk True (\d+) (\d+) (\d+)/.exec(out);
        assert.ok(pid, out);
        assert.deepEqual([pid[1], pid[2], pid[3]], ['0', '10', String(holder.pid)], 'the holder\'s range [0, 10) and pid');
        assert.match(out, /^free True$/m);
        assert.match(out, /^setlk EAGAIN$/m);
        assert.match(out, /^tail ok$/m);
        assert.match(out, /^setlkw interrupted True$/m);
        assert.match(out, /^flock busy$/m);
        assert.equal(tree.locks.interrupted, 1, 'the waiting setlk saw r.signal abort');
        // Owners: decimal strings; the waiting setlk had wait true, closing false.
        const setlks = seen.calls.filter((c) => c.op === 'setlk').map((c) => c.args);
        assert.ok(setlks.every((a) => /^[1-9][0-9]*$/.test(a[2] as string) && a[5] === false));
        assert.ok(setlks.some((a) => a[4] === true), 'F_SETLKW arrives with wait');
        const flocks = seen.calls.filter((c) => c.op === 'flock').map((c) => c.args);
        assert.ok(flocks.some((a) => a[3] === 'write' && a[4] === false), 'LOCK_EX|LOCK_NB: write, no wait');
        assert.ok(flocks.some((a) => a[3] === 'read' && a[4] === false), 'LOCK_SH|LOCK_NB: read, no wait');
      } finally {
        process.kill(holder.pid, 'SIGKILL');
        await holder.done;
      }
      // The holder died: its close(2)s dropped the POSIX lock (flush) and the flock (release).
      await eventually(() => seen.calls.some((c) => c.op === 'release' && c.args[0] === ino && c.args[3] === true), 'release with flock_release');
      assert.equal(await py(AFTER, f), 'all free\n');
    });
  });
}
