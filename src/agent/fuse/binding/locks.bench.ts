// What lock/flock forwarding and cache invalidation cost, on do-nothing mounts
// (handlers grant everything at once). Root only; prints µs per operation.
// Run: node --import tsx src/agent/fuse/binding/locks.bench.ts [iterations]

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createFuseMount, forceUnmount, type FuseMount, type FuseOps } from './index.js';

const n = Number(process.argv[2] ?? 5000);

function grantingFs(withLocks: boolean): FuseOps {
  const now = new Date();
  const ops: FuseOps = {
    getattr(path, reply) {
      if (path === '/') return reply(0, { mode: 0o40755, nlink: 2, size: 4096, atime: now, mtime: now, ctime: now });
      if (path === '/f') return reply(0, { mode: 0o100666, size: 0, atime: now, mtime: now, ctime: now });
      reply(-2);
    },
    open: (_p, _f, reply) => reply(0, 1),
    flush: (_p, _fd, done) => done(0),
    release: (_p, _fd, done) => done(0),
  };
  if (withLocks) {
    ops.lock = (_p, _fh, _cmd, _lk, _owner, reply) => reply(0);
    ops.flock = (_p, _fh, _op, _owner, done) => done(0);
  }
  return ops;
}

/** Runs a python3 loop on the mount; returns µs per iteration. */
function py(body: string, file: string): Promise<number> {
  const script = `import fcntl, os, sys, time\nf = sys.argv[1]\nn = int(sys.argv[2])\nfd = os.open(f, os.O_RDWR)\nt = time.perf_counter()\nfor i in range(n):\n${body}\nprint((time.perf_counter() - t) / n * 1e6)`;
  return new Promise((ok, fail) => {
    execFile('python3', ['-c', script, file, String(n)], (err, out, stderr) => (err ? fail(new Error(stderr)) : ok(Number(out))));
  });
}

async function onMount<T>(withLocks: boolean, work: (mnt: string, fuse: FuseMount) => Promise<T>): Promise<T> {
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-lockbench-'));
  const fuse = createFuseMount(mnt, grantingFs(withLocks), { attrTimeoutMs: 0, entryTimeoutMs: 60_000 });
  try {
    await fuse.mount();
    return await work(mnt, fuse);
  } finally {
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
}

const rows: Array<[string, string]> = [];
const add = (what: string, us: number): void => void rows.push([what, us.toFixed(1)]);

await onMount(false, async (mnt) => {
  const f = join(mnt, 'f');
  add('fstat (GETATTR round trip through fuse-native), no lock handlers', await py('  os.fstat(fd)', f));
  add('open+close, no lock handlers', await py('  os.close(os.open(f, os.O_RDONLY))', f));
  add('fcntl setlk+unlock pair, no handlers (kernel-local)', await py('  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, i); fcntl.lockf(fd, fcntl.LOCK_UN, 1, i)', f));
});
await onMount(true, async (mnt, fuse) => {
  const f = join(mnt, 'f');
  add('fstat, with lock handlers', await py('  os.fstat(fd)', f));
  add('open+close of a never-locked file, with lock handlers', await py('  os.close(os.open(f, os.O_RDONLY))', f));
  add('fcntl setlk+unlock pair, forwarded to JS', await py('  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, i); fcntl.lockf(fd, fcntl.LOCK_UN, 1, i)', f));
  add('flock LOCK_EX|LOCK_NB + LOCK_UN pair, forwarded to JS', await py('  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); fcntl.flock(fd, fcntl.LOCK_UN)', f));
  add('open+lockf+close (close-time unlock forwarded)', await py('  g = os.open(f, os.O_RDWR); fcntl.lockf(g, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0); os.close(g)', f));
  const count = Math.min(n, 2000);
  let t = performance.now();
  for (let i = 0; i < count; i++) await fuse.invalidateInode('/f');
  add('invalidateInode, sequential (thread + name_to_handle_at + write)', ((performance.now() - t) * 1000) / count);
  t = performance.now();
  await Promise.all(Array.from({ length: count }, () => fuse.invalidateInode('/f')));
  add(`invalidateInode, ${count} at once (per call)`, ((performance.now() - t) * 1000) / count);
  t = performance.now();
  for (let i = 0; i < count; i++) await fuse.invalidateEntry('/', 'f');
  add('invalidateEntry, sequential', ((performance.now() - t) * 1000) / count);
});

const w = Math.max(...rows.map(([what]) => what.length));
console.log(`${n} iterations each (python3 loops in a child process)`);
for (const [what, us] of rows) console.log(`${what.padEnd(w)}  ${us.padStart(7)} µs`);
