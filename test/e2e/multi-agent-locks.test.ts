/**
 * Two agents on one volume through one proxyfsd: flock and fcntl locks hold across agents
 * (docs/LEASES.md §6), a dead agent's locks are freed when the server drops its mount
 * (MountGracePeriod 5 s here), an interrupted wait leaks no lock, and
 * names created, removed or renamed on one agent are seen on the other within EntryDuration
 * (1 s here; docs/LEASES.md §5). Every program is a child process (flock(1), python3 with
 * test/support/locktool.py); markers that order them live on the local disk.
 *
 * Reproduce: make build && node --test dist/test/e2e/multi-agent-locks.test.js
 * One test: node --test --test-name-pattern='flock' dist/test/e2e/multi-agent-locks.test.js
 * Needs: fuse, libfuse2, python3, flock (util-linux).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, localTempDir, q, sh, startMount, type MountHandle, type ShResult } from '../support/agent.js';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';

const LOCKTOOL = join(REPO, 'test/support/locktool.py');
const ENTRY_MS = 1000;
const agentConf = { EntryDuration: '1s', AttrDuration: '1s' };

let server: ProxyfsdHandle;
let a: MountHandle;
let b: MountHandle;
let local: { dir: string; remove(): void };
let seq = 0;

before(async () => {
  for (const tool of ['python3', 'flock', 'timeout']) {
    await sh(`command -v ${tool}`).catch(() => { throw new Error(`${tool} is not installed (scripts/install-system-deps.sh fuse tools)`); });
  }
  server = await startProxyfsd({ mountGracePeriod: '5s' });
  a = await startMount({ proxyfsd: server, agentConf });
  b = await startMount({ proxyfsd: server, agentConf });
  local = localTempDir('pfs-multi-agent-');
});

after(async () => {
  try {
    await a?.cleanup();
    await b?.cleanup();
  } finally {
    await server?.cleanup();
    local?.remove();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A marker path on the local disk (never on a mount). */
const marker = (name: string) => join(local.dir, `${++seq}-${name}`);

async function waitFor(path: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try { return await access(path); } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${path} did not appear within ${ms} ms`);
    await sleep(20);
  }
}

/** Runs locktool on file with steps; resolves with its output lines (step: result). */
function locktool(file: string, steps: string[], opts: { timeoutMs?: number; prefix?: string } = {}): Promise<ShResult> {
  const cmd = `${opts.prefix ?? ''}python3 ${q(LOCKTOOL)} ${q(file)} ${steps.map(q).join(' ')}`;
  return sh(cmd, { timeoutMs: opts.timeoutMs ?? 60_000, allowFail: true });
}

/** The result of the step starting with `step` ("ok", "EAGAIN", ...). */
function result(r: ShResult, step: string): string {
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${step}: `));
  if (!line) throw new Error(`no "${step}" in the output:\n${r.stdout}\nstderr: ${r.stderr}`);
  return line.slice(step.length + 2).replace(/ \(\d+ ms\)$/, '');
}

/** A file on the volume, made on A; its path on A and on B. */
async function sharedFile(name: string): Promise<{ onA: string; onB: string }> {
  const dir = `t${++seq}-${name}`;
  await sh(`mkdir ${q(join(a.mnt, dir))} && : > ${q(join(a.mnt, dir, 'f'))}`);
  return { onA: join(a.mnt, dir, 'f'), onB: join(b.mnt, dir, 'f') };
}

/** Starts a holder on one agent: takes the locks of `lockSteps`, then waits for the release marker. */
async function hold(file: string, ...lockSteps: string[]): Promise<{ release(): Promise<ShResult>; pid: number; done: Promise<ShResult> }> {
  const ready = marker('ready');
  const release = marker('release');
  const done = locktool(file, [...lockSteps, `touch ${ready}`, `wait ${release}`], { timeoutMs: 120_000 });
  const early = done.then((r) => { throw new Error(`holder exited early:\n${r.stdout}${r.stderr}`); });
  early.catch(() => undefined);
  await Promise.race([waitFor(ready), early]);
  const pid = Number((await sh(`cat ${q(ready)}`)).stdout.trim().split(' ')[1]);
  return { pid, done, release: async () => { await sh(`touch ${q(release)}`); return done; } };
}

test('flock across agents: -n fails on B while A holds; a blocking flock on B proceeds when A\'s holder exits; shared locks share', { timeout: 90_000 }, async () => {
  const f = await sharedFile('flock');
  const holder = await hold(f.onA, 'flock ex');
  const nb = await sh(`flock -n ${q(f.onB)} true`, { allowFail: true });
  assert.equal(nb.code, 1, 'flock -n on B fails while A holds the lock');
  assert.equal(result(await locktool(f.onB, ['lock w 0 0 nb']), 'lock w 0 0 nb'), 'ok', 'fcntl locks are independent of flock locks (as on Linux)');
  const started = Date.now();
  const blocked = sh(`flock ${q(f.onB)} echo got`, { timeoutMs: 60_000 });
  let finished = false;
  void blocked.then(() => { finished = true; }, () => undefined);
  await sleep(1500);
  assert.equal(finished, false, 'the blocking flock on B waits while A holds');
  const released = Date.now();
  assert.equal(result(await holder.release(), 'flock ex'), 'ok');
  const r = await blocked;
  assert.equal(r.stdout.trim(), 'got');
  const afterRelease = Date.now() - released;
  assert.ok(afterRelease < 5000, `B got the lock ${afterRelease} ms after A's holder exited`);
  console.log(`flock: B waited ${Date.now() - started} ms, ${afterRelease} ms after A's release`);

  const shared = await hold(f.onA, 'flock sh');
  assert.equal((await sh(`flock -s -n ${q(f.onB)} true`, { allowFail: true })).code, 0, 'a shared flock on B while A holds one shared');
  assert.equal((await sh(`flock -n ${q(f.onB)} true`, { allowFail: true })).code, 1, 'but not an exclusive one');
  await shared.release();
  assert.equal((await sh(`flock -n ${q(f.onB)} true`, { allowFail: true })).code, 0, 'free again once A\'s holder exits');
});

test('fcntl byte ranges across agents: disjoint ranges both succeed, overlapping ones conflict, F_GETLK on B reports A\'s lock and pid, F_SETLKW on B proceeds after A\'s holder exits', { timeout: 90_000 }, async () => {
  const f = await sharedFile('fcntl');
  const holder = await hold(f.onA, 'lock w 0 100 nb');
  const r = await locktool(f.onB, ['lock w 100 100 nb', 'lock w 50 100 nb', 'lock r 99 1 nb', 'getlk r 150 0', 'getlk w 0 0', 'getlk r 200 10']);
  assert.equal(result(r, 'lock w 100 100 nb'), 'ok', 'the disjoint range [100, 200)');
  assert.match(result(r, 'lock w 50 100 nb'), /^(EAGAIN|EACCES)$/, 'an overlapping write lock conflicts');
  assert.match(result(r, 'lock r 99 1 nb'), /^(EAGAIN|EACCES)$/, 'a read lock over A\'s write lock conflicts');
  assert.equal(result(r, 'getlk r 150 0'), 'none', 'nothing of another owner from 150 on (B\'s own [100, 200) is not a conflict)');
  assert.equal(result(r, 'getlk w 0 0'), `w 0 100 ${holder.pid}`, 'F_GETLK on B: A\'s write lock [0, 100) and its holder\'s pid');
  assert.equal(result(r, 'getlk r 200 10'), 'none');

  const waiter = locktool(f.onB, ['lock w 0 10 w'], { timeoutMs: 60_000 });
  let finished = false;
  void waiter.then(() => { finished = true; });
  await sleep(1500);
  assert.equal(finished, false, 'F_SETLKW on B waits while A holds');
  const released = Date.now();
  await holder.release();
  assert.equal(result(await waiter, 'lock w 0 10 w'), 'ok');
  assert.ok(Date.now() - released < 5000);
  // Both processes exited: their close-time unlocks freed everything.
  const free = await locktool(f.onA, ['lock w 0 0 nb']);
  assert.equal(result(free, 'lock w 0 0 nb'), 'ok');
});

test('EDEADLK across agents: a wait that would close a cycle through the other agent fails', { timeout: 90_000 }, async () => {
  const f = await sharedFile('deadlock');
  const [ready1, go1, ready2, go2] = [marker('ready1'), marker('go1'), marker('ready2'), marker('go2')];
  const p1 = locktool(f.onA, ['lock w 0 10 nb', `touch ${ready1}`, `wait ${go1}`, 'lock w 10 10 w'], { timeoutMs: 60_000 });
  await waitFor(ready1);
  const p2 = locktool(f.onB, ['lock w 10 10 nb', `touch ${ready2}`, `wait ${go2}`, 'lock w 0 10 w'], { timeoutMs: 60_000 });
  await waitFor(ready2);
  await sh(`touch ${q(go1)}`);
  await sleep(1000); // p1 now waits for p2's [10, 20)
  await sh(`touch ${q(go2)}`);
  const r2 = await p2;
  assert.match(result(r2, 'lock w 0 10 w'), /^EDEADLO?C?K$/, `p2: ${r2.stdout}`); // python names errno 35 EDEADLOCK
  const r1 = await p1; // p2 exited: its [10, 20) is free
  assert.equal(result(r1, 'lock w 10 10 w'), 'ok');
});

test('an interrupted wait leaks no lock: a waiter on B killed by a signal, then A releases, and the lock is free', { timeout: 90_000 }, async () => {
  const f = await sharedFile('interrupt');
  const holder = await hold(f.onA, 'flock ex', 'lock w 0 0 nb'); // flock and fcntl locks are independent (as on Linux)
  // SIGALRM after 3 s (python may take a second to start on a loaded machine) interrupts the waiting flock (locktool makes it raise EINTR), then the process exits.
  const w = await locktool(f.onB, ['flock ex', 'sleep 0'], { prefix: 'timeout -s ALRM 3 ' });
  assert.equal(result(w, 'flock ex'), 'EINTR', w.stdout + w.stderr);
  const fcntlWaiter = await locktool(f.onB, ['lock w 0 0 w'], { prefix: 'timeout -s ALRM 3 ' });
  assert.equal(result(fcntlWaiter, 'lock w 0 0 w'), 'EINTR', fcntlWaiter.stdout + fcntlWaiter.stderr);
  await holder.release();
  // The server may have granted the abandoned waits when A's holder exited: the agent undoes them.
  const until = Date.now() + 5000;
  for (;;) {
    const r = await sh(`flock -n ${q(f.onA)} true`, { allowFail: true });
    if (r.code === 0) break;
    assert.ok(Date.now() < until, 'the lock is still held 5 s after the holder exited: an abandoned wait leaked it');
    await sleep(100);
  }
  assert.equal(result(await locktool(f.onA, ['lock w 0 0 nb']), 'lock w 0 0 nb'), 'ok');
});

test('a lock holder\'s agent killed with SIGKILL: B\'s blocking lock proceeds once the server drops the dead mount (MountGracePeriod)', { timeout: 120_000 }, async () => {
  const c = await startMount({ proxyfsd: server, agentConf });
  try {
    const f = await sharedFile('sigkill');
    const onC = f.onA.replace(a.mnt, c.mnt);
    const holder = await hold(onC, 'flock ex', 'lock w 0 0 nb');
    assert.equal((await sh(`flock -n ${q(f.onB)} true`, { allowFail: true })).code, 1);
    const flockWaiter = sh(`flock ${q(f.onB)} echo got`, { timeoutMs: 60_000 });
    const fcntlWaiter = locktool(f.onB, ['lock w 0 0 w'], { timeoutMs: 60_000 });
    await sleep(500);
    const killed = Date.now();
    await c.crash(); // SIGKILL, then a lazy unmount; the holders live on with a dead mount
    const r = await flockWaiter;
    assert.equal(r.stdout.trim(), 'got');
    assert.equal(result(await fcntlWaiter, 'lock w 0 0 w'), 'ok');
    const ms = Date.now() - killed;
    console.log(`SIGKILL: B's waiters got the locks ${ms} ms after the holder's agent was killed (MountGracePeriod 5 s)`);
    assert.ok(ms >= 4000, `granted after ${ms} ms: before the grace period ended?`);
    assert.ok(ms < 20_000, `granted only after ${ms} ms`);
    await holder.release();
  } finally {
    await c.cleanup();
  }
});

test('proxyfsd killed (-9) and restarted while A holds flock and fcntl locks: A claims them back, and B stays locked out until A lets go', { timeout: 120_000 }, async () => {
  const f = await sharedFile('restart');
  const holder = await hold(f.onA, 'flock ex', 'lock w 0 100 nb');
  const claimed = () => a.stderr().split('\n').filter((l) => l.includes('leases and locks claimed')).length;
  const before = claimed();
  await server.crash();
  await server.restart();
  const until = Date.now() + 30_000;
  while (claimed() === before) {
    assert.ok(Date.now() < until, `A did not claim its locks within 30 s:\n${a.stderr().slice(-3000)}`);
    await sleep(50);
  }
  assert.equal((await sh(`flock -n ${q(f.onB)} true`, { allowFail: true })).code, 1, 'flock -n on B fails: A\'s flock lock survived the restart');
  assert.equal(result(await locktool(f.onB, ['lock w 50 10 nb']), 'lock w 50 10 nb'), 'EAGAIN', 'A\'s fcntl range survived the restart');
  assert.equal(result(await locktool(f.onB, ['getlk w 0 0']), 'getlk w 0 0'), `w 0 100 ${holder.pid}`, 'F_GETLK on B names A\'s lock and process');
  assert.equal(result(await locktool(f.onB, ['lock w 100 10 nb']), 'lock w 100 10 nb'), 'ok', 'beyond A\'s range');
  await holder.release();
  assert.equal((await sh(`flock -n ${q(f.onB)} true`, { allowFail: true })).code, 0, 'free once A\'s holder exits');
  assert.equal(result(await locktool(f.onB, ['lock w 0 0 nb']), 'lock w 0 0 nb'), 'ok');
});

/** Polls `probe` (a shell command on B) until it prints `want`; resolves with the ms it took. */
async function seenWithin(probe: string, want: string, limitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = await sh(probe, { allowFail: true });
    if (r.stdout.trim() === want) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`"${probe}" still printed ${JSON.stringify(r.stdout.trim())} after ${limitMs} ms (wanted ${JSON.stringify(want)})`);
    await sleep(25);
  }
}

test('names across agents: a name created, removed or renamed on A is seen on B within EntryDuration (1 s)', { timeout: 90_000 }, async () => {
  const dir = `t${++seq}-names`;
  const [da, db] = [join(a.mnt, dir), join(b.mnt, dir)];
  await sh(`mkdir ${q(da)} && mkdir ${q(join(da, 'sub'))} && echo one > ${q(join(da, 'sub/old'))} && echo gone > ${q(join(da, 'x'))}`);
  // B looks at everything first, so its kernel and its path cache hold these names.
  await sh(`cat ${q(join(db, 'sub/old'))} ${q(join(db, 'x'))} && ls ${q(db)} ${q(join(db, 'sub'))} && ! test -e ${q(join(db, 'new'))}`);
  const limit = ENTRY_MS + 1000; // EntryDuration, plus the time to run the probes on a loaded machine
  const t: Record<string, number> = {};

  await sh(`echo made > ${q(join(da, 'new'))}`);
  assert.match((await sh(`ls ${q(db)}`)).stdout, /^new$/m, 'readdir asks the volume server every time: ls on B lists the new name at once');
  t.create = await seenWithin(`cat ${q(join(db, 'new'))} 2>/dev/null`, 'made', limit);
  await sh(`rm ${q(join(da, 'x'))}`);
  t.remove = await seenWithin(`test -e ${q(join(db, 'x'))} && echo there || echo gone`, 'gone', limit);
  await sh(`mv ${q(join(da, 'sub/old'))} ${q(join(da, 'sub/renamed'))}`);
  t.rename = await seenWithin(`test -e ${q(join(db, 'sub/old'))} && echo old || cat ${q(join(db, 'sub/renamed'))}`, 'one', limit);
  // A directory renamed and a new one made under its old name: B's cached /sub must not lead to the old inode.
  await sh(`mv ${q(join(da, 'sub'))} ${q(join(da, 'sub2'))} && mkdir ${q(join(da, 'sub'))} && echo two > ${q(join(da, 'sub/renamed'))}`);
  t.replacedDir = await seenWithin(`cat ${q(join(db, 'sub/renamed'))} 2>/dev/null`, 'two', limit);
  t.listing = await seenWithin(`ls ${q(db)} | tr '\\n' ' '`, 'new sub sub2', limit);
  console.log(`names seen on B after (ms): ${JSON.stringify(t)}`);
});

test('names across agents with EntryDuration 0 (the default): seen on the next use', { timeout: 90_000 }, async () => {
  const [c, d] = [await startMount({ proxyfsd: server }), await startMount({ proxyfsd: server })];
  try {
    const dir = `t${++seq}-names0`;
    const [dc, dd] = [join(c.mnt, dir), join(d.mnt, dir)];
    await sh(`mkdir ${q(dc)} && mkdir ${q(join(dc, 'sub'))} && echo one > ${q(join(dc, 'sub/old'))} && echo gone > ${q(join(dc, 'x'))}`);
    await sh(`cat ${q(join(dd, 'sub/old'))} ${q(join(dd, 'x'))} && ! test -e ${q(join(dd, 'new'))}`);
    await sh(`echo made > ${q(join(dc, 'new'))} && rm ${q(join(dc, 'x'))} && mv ${q(join(dc, 'sub'))} ${q(join(dc, 'sub2'))} && mkdir ${q(join(dc, 'sub'))} && echo two > ${q(join(dc, 'sub/old'))}`);
    const r = await sh(`cat ${q(join(dd, 'new'))}; test -e ${q(join(dd, 'x'))} && echo there || echo gone; cat ${q(join(dd, 'sub/old'))} ${q(join(dd, 'sub2/old'))}`, { allowFail: true });
    assert.equal(r.stdout, 'made\ngone\ntwo\none\n', r.stderr);
  } finally {
    await c.cleanup();
    await d.cleanup();
  }
});
