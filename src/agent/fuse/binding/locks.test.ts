// E2E: fcntl and flock locks forwarded to JS lock/flock handlers, on real FUSE
// mounts of a tiny in-memory filesystem whose handlers keep a lock table (the
// only lock authority once the handlers exist). Needs root, /dev/fuse, Debian's
// libfuse2 + fuse, python3, util-linux flock and the context addon; skipped
// otherwise. All I/O on the mounts runs in child processes.
// Reproduce: node --import tsx --test src/agent/fuse/binding/locks.test.ts

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { contextAddonBuildScript } from './caller-context.js';
import { fuseSkipReason, sh, startChild } from './test-support.js';
import {
  createFuseMount, forceUnmount, type CallerContext, type FuseLockCmd, type FuseLockType, type FuseMount, type FuseOps,
} from './index.js';

const ENOENT = -2;
const EINTR = -4;
const EAGAIN = -11;

type Owner = bigint | 'remote';
interface Held { owner: Owner; type: 'rdlck' | 'wrlck'; start: number; end: number; pid: number }

/** A tiny lock manager standing in for the lease service. */
class LockTable {
  readonly posix = new Map<string, Held[]>();
  readonly flocks = new Map<string, Map<Owner, 'shared' | 'exclusive'>>();
  private readonly retries = new Set<() => void>();
  private readonly aborts = new Map<() => void, () => void>();

  posixConflict(path: string, owner: Owner, type: FuseLockType, start: number, end: number): Held | undefined {
    return (this.posix.get(path) ?? []).find((h) => h.owner !== owner && h.start <= end && start <= h.end && (h.type === 'wrlck' || type === 'wrlck'));
  }

  /** Simplified POSIX: the owner's locks inside [start, end] are replaced (unlck: dropped). */
  posixSet(path: string, owner: Owner, type: FuseLockType, start: number, end: number, pid: number): void {
    const list = (this.posix.get(path) ?? []).filter((h) => !(h.owner === owner && h.start >= start && h.end <= end));
    if (type !== 'unlck') list.push({ owner, type, start, end, pid });
    this.posix.set(path, list);
    this.changed();
  }

  flockConflict(path: string, owner: Owner, op: 'shared' | 'exclusive'): boolean {
    for (const [o, mode] of this.flocks.get(path) ?? []) if (o !== owner && (mode === 'exclusive' || op === 'exclusive')) return true;
    return false;
  }

  flockSet(path: string, owner: Owner, op: 'shared' | 'exclusive' | 'unlock'): void {
    const held = this.flocks.get(path) ?? new Map<Owner, 'shared' | 'exclusive'>();
    if (op === 'unlock') held.delete(owner);
    else held.set(owner, op);
    this.flocks.set(path, held);
    this.changed();
  }

  releaseRemote(): void {
    for (const [path, list] of this.posix) this.posix.set(path, list.filter((h) => h.owner !== 'remote'));
    this.changed();
  }

  /** attempt() now and after every change until it succeeds; onAbort when the signal aborts first. */
  wait(attempt: () => boolean, signal: AbortSignal, onAbort: () => void): void {
    if (attempt()) return;
    const retry = (): void => {
      this.retries.delete(retry);
      if (!attempt()) this.retries.add(retry);
      else this.aborts.delete(retry);
    };
    this.retries.add(retry);
    this.aborts.set(retry, onAbort);
    signal.addEventListener('abort', () => this.cancel(retry), { once: true });
  }

  /** Answers every waiter EINTR (before unmounting: a waiter left blocked would hang its process). */
  cancelAll(): void {
    for (const retry of [...this.retries]) this.cancel(retry);
  }

  private cancel(retry: () => void): void {
    const onAbort = this.aborts.get(retry);
    this.aborts.delete(retry);
    if (this.retries.delete(retry)) onAbort?.();
  }

  get waiting(): number {
    return this.retries.size;
  }

  private changed(): void {
    // A grant changes the table again (re-entry): only retry what is still waiting.
    for (const retry of [...this.retries]) if (this.retries.has(retry)) retry();
  }
}

interface LockCall {
  op: 'lock' | 'flock';
  path: string;
  cmd: FuseLockCmd | 'shared' | 'exclusive' | 'unlock';
  type?: FuseLockType;
  start?: number;
  len?: number;
  pid?: number;
  nonblock?: boolean;
  closing: boolean;
  owner: bigint;
  ctx: CallerContext | null;
  result?: number;
  aborted?: boolean;
}

const FILES = ['/f', '/g', '/other'];

function lockingFs(table: LockTable | null, calls: LockCall[], getContext: () => CallerContext | null): FuseOps {
  const now = new Date();
  const base: FuseOps = {
    getattr(path, reply) {
      if (path === '/') return reply(0, { mode: 0o40777, nlink: 2, size: 4096, atime: now, mtime: now, ctime: now });
      if (FILES.includes(path)) return reply(0, { mode: 0o100666, size: 6, atime: now, mtime: now, ctime: now });
      return reply(ENOENT);
    },
    readdir: (_path, reply) => reply(0, FILES.map((f) => f.slice(1))),
    open: (path, _flags, reply) => reply(FILES.includes(path) ? 0 : ENOENT, 5),
    read(_path, _fd, buf, len, pos, reply) {
      const data = Buffer.from('other\n').subarray(pos, pos + len);
      data.copy(buf);
      reply(data.length);
    },
    flush: (_p, _fd, done) => done(0),
    release: (_p, _fd, done) => done(0),
  };
  if (!table) return base;
  return {
    ...base,
    lock(path, _fh, cmd, lk, owner, reply) {
      const call: LockCall = { op: 'lock', path, cmd, type: lk.type, start: lk.start, len: lk.len, pid: lk.pid, closing: lk.closing, owner, ctx: getContext() };
      calls.push(call);
      const answer = (code: number, conflict?: Held): void => {
        call.result = code;
        reply(code, conflict && { type: conflict.type, start: conflict.start, len: conflict.end === Infinity ? 0 : conflict.end - conflict.start + 1, pid: conflict.pid });
      };
      const end = lk.len === 0 ? Infinity : lk.start + lk.len - 1;
      if (cmd === 'getlk') return answer(0, table.posixConflict(path, owner, lk.type, lk.start, end));
      const attempt = (): boolean => {
        if (lk.type !== 'unlck' && table.posixConflict(path, owner, lk.type, lk.start, end)) return false;
        table.posixSet(path, owner, lk.type, lk.start, end, lk.pid);
        answer(0);
        return true;
      };
      if (cmd === 'setlk') return void (attempt() || answer(EAGAIN));
      table.wait(attempt, lk.signal, () => {
        call.aborted = true;
        answer(EINTR);
      });
    },
    flock(path, _fh, op, owner, done) {
      const call: LockCall = { op: 'flock', path, cmd: op.op, nonblock: op.nonblock, closing: op.closing, owner, ctx: getContext() };
      calls.push(call);
      const answer = (code: number): void => {
        call.result = code;
        done(code);
      };
      const attempt = (): boolean => {
        if (op.op !== 'unlock' && table.flockConflict(path, owner, op.op)) return false;
        table.flockSet(path, owner, op.op);
        answer(0);
        return true;
      };
      if (op.nonblock || op.op === 'unlock') return void (attempt() || answer(EAGAIN));
      table.wait(attempt, op.signal, () => {
        call.aborted = true;
        answer(EINTR);
      });
    },
  };
}

async function withMount(table: LockTable | null, calls: LockCall[], body: (mnt: string, fuse: FuseMount) => Promise<void>): Promise<void> {
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-locks-'));
  let getContext: () => CallerContext | null = () => null;
  const fuse = createFuseMount(mnt, lockingFs(table, calls, () => getContext()), {
    onHandlerError: (op, err) => assert.fail(`handler ${op}: ${String(err)}`),
  });
  getContext = () => fuse.callerContext();
  try {
    await fuse.mount();
    await body(mnt, fuse);
  } finally {
    table?.cancelAll();
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
}

/** Polls until cond() holds (the handlers run on this thread, so awaiting lets them). */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

const PY_HOLD = `
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
os.close(fd)
`;

const PY_PROBE = `
import fcntl, json, os, struct, sys
FL = 'hhqqi4x'
fd = os.open(sys.argv[1], os.O_RDWR)
out = {}
def try_lock(cmd, length, start):
    try:
        fcntl.lockf(fd, cmd, length, start)
        return 'granted'
    except OSError as e:
        return e.errno
def getlk(start, length):
    t, w, s, l, p = struct.unpack(FL, fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FL, fcntl.F_WRLCK, 0, start, length, 0)))
    return {'type': {fcntl.F_RDLCK: 'rdlck', fcntl.F_WRLCK: 'wrlck', fcntl.F_UNLCK: 'unlck'}[t], 'start': s, 'len': l, 'pid': p}
out['overlap'] = try_lock(fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
out['disjoint'] = try_lock(fcntl.LOCK_SH | fcntl.LOCK_NB, 100, 200)
out['remote'] = try_lock(fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1500)
out['getlk_local'] = getlk(50, 1)
out['getlk_remote'] = getlk(1500, 1)
out['getlk_free'] = getlk(5000, 10)
os.close(fd)
print(json.dumps(out))
`;

const PY_WAIT = `
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
t = time.time()
fcntl.lockf(fd, fcntl.LOCK_EX, 10, int(sys.argv[2]))
print("granted %.3f" % (time.time() - t), flush=True)
os.close(fd)
`;

const PY_INTERRUPTED = `
import fcntl, os, signal, sys, time
class Alarm(Exception): pass
def on_alarm(*_): raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
fd = os.open(sys.argv[1], os.O_RDWR)
signal.setitimer(signal.ITIMER_REAL, 0.5)
t = time.time()
try:
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    print("granted")
except Alarm:
    print("interrupted %.3f" % (time.time() - t))
`;

const reason = fuseSkipReason({ python3: true }) ?? (existsSync('/usr/bin/flock') ? undefined : 'no flock (util-linux)');

test('locks: setup', { skip: reason }, () => {
  execFileSync(process.execPath, [contextAddonBuildScript()!, '--if-missing'], { stdio: 'inherit' });
});

test('flock: handlers decide; owner, pid and nonblock arrive; the last close unlocks', { skip: reason, timeout: 30_000 }, async () => {
  const table = new LockTable();
  const calls: LockCall[] = [];
  await withMount(table, calls, async (mnt) => {
    const f = join(mnt, 'f');
    const holder = startChild('flock', ['-n', f, '-c', 'echo locked; sleep 1']);
    await holder.waitFor('locked');
    const denied = await sh('flock', ['-n', f, '-c', 'true']);
    assert.equal(denied.code, 1, 'flock -n fails while another owner holds it');
    const shared = await sh('flock', ['-s', '-n', f, '-c', 'true']);
    assert.equal(shared.code, 1, 'a shared lock conflicts with the exclusive one');
    assert.equal((await holder.done).code, 0);
    const after = await sh('flock', ['-n', f, '-c', 'true']);
    assert.equal(after.code, 0, 'the holder\'s close released its lock');

    const ex = calls.find((c) => c.op === 'flock' && c.cmd === 'exclusive' && c.ctx?.pid === holder.pid);
    assert.ok(ex, 'the holder\'s LOCK_EX reached flock()');
    assert.deepEqual({ nonblock: ex.nonblock, closing: ex.closing, result: ex.result, path: ex.path }, { nonblock: true, closing: false, result: 0, path: '/f' });
    assert.equal(typeof ex.owner, 'bigint');
    const unlocks = calls.filter((c) => c.op === 'flock' && c.owner === ex.owner && c.cmd === 'unlock');
    assert.equal(unlocks.length, 1, 'exactly one unlock for the holder (libfuse itself sends none)');
    assert.equal(unlocks[0]!.closing, true);
    const deniedCall = calls.find((c) => c.op === 'flock' && c.cmd === 'exclusive' && c.ctx?.pid === denied.pid);
    assert.equal(deniedCall?.result, EAGAIN);
    assert.equal(calls.filter((c) => c.op === 'lock').length, 0, 'flock never arrives as a POSIX lock');
  });
});

test('fcntl: setlk/getlk reach lock() with owner, pid and range; close unlocks; never-locked files cost nothing', { skip: reason, timeout: 30_000 }, async () => {
  const table = new LockTable();
  table.posix.set('/f', [{ owner: 'remote', type: 'wrlck', start: 1000, end: 1999, pid: 0 }]);
  const calls: LockCall[] = [];
  await withMount(table, calls, async (mnt) => {
    const f = join(mnt, 'f');
    const holder = startChild('python3', ['-c', PY_HOLD, f, '1.5']);
    await holder.waitFor('locked');
    const probe = await sh('python3', ['-c', PY_PROBE, f]);
    assert.equal(probe.code, 0, probe.stderr);
    const out = JSON.parse(probe.stdout) as Record<string, unknown>;
    assert.equal(out.overlap, 11, 'conflict with the holder: EAGAIN');
    assert.equal(out.disjoint, 'granted');
    assert.equal(out.remote, 11, 'conflict with a lock only the handler knows: EAGAIN');
    assert.deepEqual(out.getlk_local, { type: 'wrlck', start: 0, len: 100, pid: holder.pid }, 'libfuse answers a conflict it recorded itself');
    assert.deepEqual(out.getlk_remote, { type: 'wrlck', start: 1000, len: 1000, pid: 0 }, 'getlk answered by the handler');
    assert.deepEqual(out.getlk_free, { type: 'unlck', start: 5000, len: 10, pid: 0 });
    assert.equal((await holder.done).code, 0);
    const taken = await sh('python3', ['-c', 'import fcntl,os,sys; fd=os.open(sys.argv[1], os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX|fcntl.LOCK_NB, 10, 50)', f]);
    assert.equal(taken.code, 0, `the holder's close released its range: ${taken.stderr}`);
    const cat = await sh('cat', [join(mnt, 'other')]);
    assert.equal(cat.stdout, 'other\n');

    const mine = (pid: number) => calls.filter((c) => c.op === 'lock' && c.ctx?.pid === pid);
    const [set, close, ...rest] = mine(holder.pid);
    assert.deepEqual(
      { cmd: set?.cmd, type: set?.type, start: set?.start, len: set?.len, pid: set?.pid, closing: set?.closing, result: set?.result },
      { cmd: 'setlk', type: 'wrlck', start: 0, len: 100, pid: holder.pid, closing: false, result: 0 },
    );
    assert.deepEqual(
      { cmd: close?.cmd, type: close?.type, start: close?.start, len: close?.len, pid: close?.pid, closing: close?.closing, owner: close?.owner },
      { cmd: 'setlk', type: 'unlck', start: 0, len: 0, pid: 0, closing: true, owner: set!.owner },
      'close(2) sends one whole-file unlock for the same owner',
    );
    assert.equal(rest.length, 0);
    const probeCalls = mine(probe.pid);
    assert.deepEqual(probeCalls.map((c) => [c.cmd, c.type, c.start, c.len, c.result]), [
      ['setlk', 'wrlck', 50, 10, EAGAIN],
      ['setlk', 'rdlck', 200, 100, 0],
      ['setlk', 'wrlck', 1500, 1, EAGAIN],
      ['getlk', 'wrlck', 1500, 1, 0],
      ['getlk', 'wrlck', 5000, 10, 0],
      ['setlk', 'unlck', 0, 0, 0],
    ], 'getlk(50) never reached the handler: libfuse saw the holder\'s lock in its own table');
    assert.ok(probeCalls.every((c) => c.owner === probeCalls[0]!.owner));
    assert.notEqual(probeCalls[0]!.owner, set!.owner);
    assert.equal(mine(cat.pid).length, 0, 'closing a never-locked file sends no lock request');
  });
});

test('fcntl F_SETLKW: waits in JS while the same mount keeps serving; several waiters at once', { skip: reason, timeout: 30_000 }, async () => {
  const table = new LockTable();
  table.posix.set('/g', [{ owner: 'remote', type: 'wrlck', start: 0, end: Infinity, pid: 0 }]);
  const calls: LockCall[] = [];
  await withMount(table, calls, async (mnt) => {
    const g = join(mnt, 'g');
    const waiters = [0, 100, 200].map((start) => startChild('python3', ['-c', PY_WAIT, g, String(start)]));
    await until(() => table.waiting === 3, 'three setlkw waiting in the handler');
    const t0 = Date.now();
    const served = await Promise.all([
      sh('cat', [join(mnt, 'other')]),
      sh('stat', ['-c', '%s', join(mnt, 'f')]),
      sh('ls', [mnt]),
      sh('flock', ['-n', join(mnt, 'f'), '-c', 'true']),
    ]);
    const servedMs = Date.now() - t0;
    assert.deepEqual(served.map((r) => r.code), [0, 0, 0, 0], served.map((r) => r.stderr).join(''));
    assert.equal(served[0]!.stdout, 'other\n');
    assert.ok(servedMs < 2000, `other requests were served while three setlkw waited (${servedMs} ms)`);
    await new Promise((ok) => setTimeout(ok, 1000));
    assert.equal(table.waiting, 3, 'still waiting');
    table.releaseRemote();
    const results = await Promise.all(waiters.map((w) => w.done));
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      const waited = Number(/granted ([\d.]+)/.exec(r.stdout)?.[1]);
      assert.ok(waited >= 1.0, `waited ${waited} s for the lock`);
    }
    assert.equal(calls.filter((c) => c.cmd === 'setlkw' && c.type === 'wrlck' && c.result === 0).length, 3);
  });
});

test('fcntl F_SETLKW: a signal aborts the handler\'s wait; its EINTR reaches the caller', { skip: reason, timeout: 30_000 }, async () => {
  const table = new LockTable();
  table.posix.set('/g', [{ owner: 'remote', type: 'wrlck', start: 0, end: Infinity, pid: 0 }]);
  const calls: LockCall[] = [];
  await withMount(table, calls, async (mnt) => {
    const r = await sh('python3', ['-c', PY_INTERRUPTED, join(mnt, 'g')]);
    assert.equal(r.code, 0, r.stderr);
    const after = Number(/interrupted ([\d.]+)/.exec(r.stdout)?.[1]);
    assert.ok(after >= 0.45 && after < 1.5, `interrupted after ${after} s (alarm at 0.5 s, interrupt polled every 0.1 s): ${r.stdout}`);
    const wait = calls.find((c) => c.cmd === 'setlkw' && c.ctx?.pid === r.pid);
    assert.deepEqual({ aborted: wait?.aborted, result: wait?.result }, { aborted: true, result: EINTR });
    assert.equal(table.waiting, 0);

    // SIGKILL too: the kernel sends INTERRUPT, then waits (uninterruptibly) for the reply.
    const victim = startChild('python3', ['-c', PY_WAIT, join(mnt, 'g'), '0']);
    await until(() => table.waiting === 1, 'the victim waiting in the handler');
    process.kill(victim.pid, 'SIGKILL');
    assert.equal((await victim.done).code, 128 + 9, 'the killed waiter exits');
    const killed = calls.find((c) => c.cmd === 'setlkw' && c.ctx?.pid === victim.pid);
    assert.deepEqual({ aborted: killed?.aborted, result: killed?.result }, { aborted: true, result: EINTR });
  });
});

const PY_OFD = `
import fcntl, os, struct, sys
F_OFD_SETLK = getattr(fcntl, 'F_OFD_SETLK', 37)
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, F_OFD_SETLK, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 10, 0))
print("locked", flush=True)
os.close(fd)
`;

test('open file description locks (F_OFD_SETLK): the last close sends their unlock, which the kernel does not', { skip: reason, timeout: 30_000 }, async () => {
  const table = new LockTable();
  const calls: LockCall[] = [];
  await withMount(table, calls, async (mnt) => {
    const f = join(mnt, 'f');
    const ofd = await sh('python3', ['-c', PY_OFD, f]);
    assert.equal(ofd.code, 0, ofd.stderr);
    const set = calls.find((c) => c.cmd === 'setlk' && c.type === 'wrlck' && c.ctx?.pid === ofd.pid);
    assert.ok(set, 'the OFD lock reached lock()');
    const unlocks = calls.filter((c) => c.owner === set.owner && c.type === 'unlck');
    assert.deepEqual(unlocks.map((c) => [c.cmd, c.start, c.len, c.closing]), [['setlk', 0, 0, true]], 'one closing unlock for the description\'s owner');
    assert.deepEqual(table.posix.get('/f'), [], 'the lock table is empty again');
    const probe = await sh('python3', ['-c', PY_PROBE, f]);
    assert.equal(probe.code, 0, probe.stderr);
    const out = JSON.parse(probe.stdout) as Record<string, unknown>;
    assert.equal(out.overlap, 'granted');
    assert.deepEqual(out.getlk_local, { type: 'unlck', start: 50, len: 1, pid: 0 }, 'libfuse\'s own getlk table forgot the OFD lock too');
  });
});

test('no lock/flock handlers: the kernel keeps locks local, as before', { skip: reason, timeout: 30_000 }, async () => {
  await withMount(null, [], async (mnt, fuse) => {
    const f = join(mnt, 'f');
    // Held 4 s: the probes must run while the locks are held, and a loaded machine can take
    // more than a second to start python.
    const holder = startChild('flock', ['-n', f, '-c', 'echo locked; sleep 4']);
    await holder.waitFor('locked');
    assert.equal((await sh('flock', ['-n', f, '-c', 'true'])).code, 1, 'local flock conflict');
    const py = startChild('python3', ['-c', PY_HOLD, join(mnt, 'g'), '4']);
    await py.waitFor('locked');
    const probe = await sh('python3', ['-c', 'import fcntl,os,sys; fd=os.open(sys.argv[1], os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX|fcntl.LOCK_NB, 10, 50)', join(mnt, 'g')]);
    assert.notEqual(probe.code, 0, 'local fcntl conflict');
    assert.equal((await holder.done).code, 0);
    assert.equal((await py.done).code, 0);
    assert.equal((await sh('flock', ['-n', f, '-c', 'true'])).code, 0);
    assert.equal(fuse.callerContext(), null);
  });
});

test('children of the serving process inherit neither /dev/fuse nor the fusermount watchdog socket', { skip: reason, timeout: 30_000 }, async () => {
  // Before the fix a child blocked in F_SETLKW held the connection open itself: when the
  // server died nothing could answer or abort it (docs/FUSE-BINDING.md 5.5).
  await withMount(new LockTable(), [], async () => {
    const list = 'import json, os\nout = {}\nfor f in os.listdir("/proc/self/fd"):\n  try: out[f] = os.readlink("/proc/self/fd/" + f)\n  except OSError: pass\nprint(json.dumps(out))';
    const r = await sh('python3', ['-c', list]);
    assert.equal(r.code, 0, r.stderr);
    const fds = JSON.parse(r.stdout) as Record<string, string>;
    assert.ok(!Object.values(fds).includes('/dev/fuse'), JSON.stringify(fds));
    const extraSockets = Object.entries(fds).filter(([fd, target]) => Number(fd) > 2 && target.startsWith('socket:'));
    assert.deepEqual(extraSockets, [], 'no inherited socket besides stdio');
  });
});
