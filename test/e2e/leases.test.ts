/**
 * Two agents mounting one volume (one proxyfsd): what B sees of A's changes while A still has
 * the file open with buffered writes (leases, docs/LEASES.md), concurrent O_APPEND from both,
 * an agent stopped while it holds Exclusive (evicted, fenced, its application told with EIO),
 * and the agent's lease limits. Writes stay buffered on A (MaxFlushTime 60 s) unless a lease
 * revocation writes them back. Eviction after 20 ms + 10 × 100 ms without an answer.
 * Reproduce: make build && node --test dist/test/e2e/leases.test.js
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { adminTokenFile, localTempDir, q, sh, startMount, type MountHandle } from '../support/agent.js';
import { freePort, startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { startHolder, type Holder } from '../support/holder.js';

const LEASES = '\n[Leases]\nMinLeaseDuration: 20ms\nLeaseInterruptInterval: 100ms\nLeaseInterruptLimit: 10\n';
const EVICTION_MS = 20 + 10 * 100 + 100;
const AGENT = { MaxFlushTime: '60s', LeaseRetryDelay: '100ms' };

let srv: ProxyfsdHandle;
let a: MountHandle;
let b: MountHandle;
const holders: Holder[] = [];

before(async () => {
  srv = await startProxyfsd({ extraConf: LEASES });
  a = await startMount({ proxyfsd: srv, agentConf: AGENT });
  b = await startMount({ proxyfsd: srv, agentConf: AGENT });
});

after(async () => {
  for (const h of holders) await h.stop();
  for (const m of [a, b]) {
    if (!m) continue;
    if (m.agent.signalCode === null && m.agent.exitCode === null) m.agent.kill('SIGCONT');
    await m.cleanup().catch((err) => console.error(err));
  }
  await srv?.cleanup();
});

function holder(): Holder {
  const h = startHolder();
  holders.push(h);
  return h;
}

const onB = async (cmd: string) => (await sh(cmd, { timeoutMs: 30_000 })).stdout;

test('B sees A\'s buffered writes, appends, truncates, chmod and xattrs while A keeps the file open', { timeout: 120_000 }, async () => {
  const h = holder();
  const fa = join(a.mnt, 'open-on-a');
  const fb = join(b.mnt, 'open-on-a');
  const fd = await h.ok<number>({ op: 'open', path: fa, flags: ['O_RDWR', 'O_CREAT'] });
  await h.ok({ op: 'pwrite', fd, off: 0, data: 'hello' });
  assert.equal(await onB(`stat -c %s ${q(fb)}`), '5\n', 'stat on B: A\'s buffered write is written back for it');
  assert.equal(await onB(`cat ${q(fb)}`), 'hello');
  await h.ok({ op: 'pwrite', fd, off: 5, data: ' world' });
  assert.equal(await onB(`cat ${q(fb)}`), 'hello world', 'a write after B read (A promotes, B\'s lease is revoked)');
  await h.ok({ op: 'pwrite', fd, off: 0, data: 'HELLO' });
  assert.equal(await onB(`cat ${q(fb)}`), 'HELLO world', 'an overwrite of the same size');
  await h.ok({ op: 'ftruncate', fd, size: 3 });
  assert.equal(await onB(`stat -c %s ${q(fb)}; cat ${q(fb)}`), '3\nHEL');
  await h.ok({ op: 'pwrite', fd, off: 10, data: 'x' });
  assert.equal(await onB(`od -An -c ${q(fb)} | tr -s ' '`), ' H E L \\0 \\0 \\0 \\0 \\0 \\0 \\0 x\n', 'a hole, then a byte');
  const fdAppend = await h.ok<number>({ op: 'open', path: fa, flags: ['O_WRONLY', 'O_APPEND'] });
  await h.ok({ op: 'append', fd: fdAppend, data: '+tail' });
  assert.equal(await onB(`stat -c %s ${q(fb)}; tail -c 5 ${q(fb)}`), '16\n+tail', 'an O_APPEND write');
  await h.ok({ op: 'close', fd: fdAppend });
  await h.ok({ op: 'fchmod', fd, mode: 0o600 });
  assert.equal(await onB(`stat -c %a ${q(fb)}`), '600\n');
  await h.ok({ op: 'setxattr', path: fa, name: 'user.k', value: 'v1' });
  assert.equal(await onB(`python3 -c 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.k").decode())' ${q(fb)}`), 'v1');
  await h.ok({ op: 'close', fd });
});

test('a reader on B that keeps the file open sees A\'s later writes (kernel pages invalidated)', { timeout: 120_000 }, async () => {
  const ha = holder();
  const hb = holder();
  const name = 'kept-open';
  const fda = await ha.ok<number>({ op: 'open', path: join(a.mnt, name), flags: ['O_RDWR', 'O_CREAT'] });
  await ha.ok({ op: 'pwrite', fd: fda, off: 0, data: 'first version' });
  const fdb = await hb.ok<number>({ op: 'open', path: join(b.mnt, name), flags: ['O_RDONLY'] });
  assert.equal(await hb.ok({ op: 'pread', fd: fdb, off: 0, len: 100 }), 'first version');
  await ha.ok({ op: 'pwrite', fd: fda, off: 0, data: 'FIRST' });
  assert.equal(await hb.ok({ op: 'pread', fd: fdb, off: 0, len: 100 }), 'FIRST version', 'same size: only the pages changed');
  await ha.ok({ op: 'pwrite', fd: fda, off: 13, data: ', longer' });
  assert.equal(await hb.ok({ op: 'pread', fd: fdb, off: 0, len: 100 }), 'FIRST version, longer');
  await ha.ok({ op: 'ftruncate', fd: fda, size: 5 });
  assert.equal(await hb.ok({ op: 'pread', fd: fdb, off: 0, len: 100 }), 'FIRST');
  await ha.ok({ op: 'close', fd: fda });
  await hb.ok({ op: 'close', fd: fdb });
});

test('a file A has looked at, replaced on B (rename over, then removed): A sees the new file, then none', { timeout: 60_000 }, async () => {
  const fa = join(a.mnt, 'replaced');
  const fb = join(b.mnt, 'replaced');
  await sh(`printf old > ${q(fa)} && stat -c %s ${q(fa)} && cat ${q(fa)}`);
  await onB(`printf 'new, longer' > ${q(fb)}.tmp && mv ${q(fb)}.tmp ${q(fb)}`);
  assert.equal((await sh(`stat -c %s ${q(fa)}; cat ${q(fa)}`)).stdout, '11\nnew, longer');
  await onB(`rm ${q(fb)}`);
  assert.equal((await sh(`stat ${q(fa)}`, { allowFail: true })).code, 1, 'gone on A too');
});

test('a file capability set on A is dropped by B\'s next write (B\'s "no capability" answer went with its lease)', { timeout: 60_000 }, async () => {
  const name = 'capable';
  const py = (code: string, path: string) => `python3 -c ${q(`import os, struct, sys\n${code}`)} ${q(path)}`;
  await sh(`printf a > ${q(join(a.mnt, name))}`);
  // One shell, so all three happen well within a second (the agent's 1-s memory without a lease):
  // B's write (the kernel asks B for security.capability: none), A sets one, B writes again.
  await sh(`printf b >> ${q(join(b.mnt, name))} && ${py(`os.setxattr(sys.argv[1], 'security.capability', struct.pack('<5I', 0x02000000, 1 << 10, 0, 0, 0))`, join(a.mnt, name))} && printf c >> ${q(join(b.mnt, name))}`);
  const left = await sh(py(`
try:
    os.getxattr(sys.argv[1], 'security.capability'); print('kept')
except OSError as e:
    print('dropped' if e.errno == 61 else e)`, join(a.mnt, name)));
  assert.equal(left.stdout, 'dropped\n', 'a write clears file capabilities, as on Linux');
  assert.equal(await onB(`cat ${q(join(b.mnt, name))}`), 'abc');
});

test('two agents append fixed-size records with O_APPEND at once: none lost, none interleaved', { timeout: 180_000 }, async () => {
  const N = 200;
  const SIZE = 64;
  const [ha, hb] = [holder(), holder()];
  await Promise.all([ha.ok({ op: 'ping' }), hb.ok({ op: 'ping' })]); // both pythons started
  const [ra, rb] = await Promise.all([
    ha.ok<number>({ op: 'appends', path: join(a.mnt, 'log'), tag: 'A', count: N, size: SIZE, pauseMs: 2 }, 150_000),
    hb.ok<number>({ op: 'appends', path: join(b.mnt, 'log'), tag: 'B', count: N, size: SIZE, pauseMs: 2 }, 150_000),
  ]);
  assert.deepEqual([ra, rb], [N, N]);
  for (const m of [a, b]) {
    const text = await onB(`cat ${q(join(m.mnt, 'log'))}`);
    assert.equal(text.length, 2 * N * SIZE, `size on ${m.mnt}`);
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, 2 * N);
    const seen = { A: [] as number[], B: [] as number[] };
    for (const l of lines) {
      const m2 = /^([AB]) (\d{6}) \.+$/.exec(l);
      assert.ok(m2 && l.length === SIZE - 1, `an intact record: ${JSON.stringify(l)}`);
      seen[m2[1] as 'A' | 'B'].push(Number(m2[2]));
    }
    const runs = lines.filter((l, i) => i === 0 || l[0] !== lines[i - 1]![0]).length;
    assert.ok(runs > 4, `the agents took turns (${runs} runs of one agent's records)`);
    const all = Array.from({ length: N }, (_, i) => i);
    assert.deepEqual(seen.A, all, 'A\'s records, each once, in order');
    assert.deepEqual(seen.B, all, 'B\'s records, each once, in order');
  }
});

test('an agent stopped while holding Exclusive is evicted: B proceeds; after SIGCONT A\'s data is fenced and its application gets EIO', { timeout: 120_000 }, async () => {
  const h = holder();
  const name = 'fenced';
  const fd = await h.ok<number>({ op: 'open', path: join(a.mnt, name), flags: ['O_RDWR', 'O_CREAT'] });
  await h.ok({ op: 'pwrite', fd, off: 0, data: 'AAAA from the stopped agent' });
  a.agent.kill('SIGSTOP');
  let resumed = false;
  try {
    const started = Date.now();
    await onB(`printf 'BBBB' > ${q(join(b.mnt, name))}`);
    const waitedMs = Date.now() - started;
    assert.ok(waitedMs >= EVICTION_MS - 200 && waitedMs < EVICTION_MS + 4000, `B waited ${waitedMs} ms (eviction after about ${EVICTION_MS} ms)`);
    assert.equal(await onB(`cat ${q(join(b.mnt, name))}`), 'BBBB');
    a.agent.kill('SIGCONT');
    resumed = true;
    assert.deepEqual(await h.cmd({ op: 'fsync', fd }), { err: 'EIO' }, 'A\'s application is told its buffered data was not written');
    assert.deepEqual(await h.cmd({ op: 'fsync', fd }), { ok: null }, 'once, as Linux reports writeback errors');
    assert.equal(await h.ok({ op: 'pread', fd, off: 0, len: 100 }), 'BBBB', 'the descriptor works on: opened again under the new mount');
    await h.ok({ op: 'close', fd });
    assert.equal(await onB(`cat ${q(join(b.mnt, name))}`), 'BBBB', 'A\'s stale data did not overwrite B\'s');
    // A carries on under a new mount: it reads B's data and writes new files B sees.
    assert.equal((await sh(`cat ${q(join(a.mnt, name))}`)).stdout, 'BBBB');
    await sh(`printf 'after' > ${q(join(a.mnt, 'after-eviction'))}`);
    assert.equal(await onB(`cat ${q(join(b.mnt, 'after-eviction'))}`), 'after');
    const logged = a.stderr().split('\n').filter((l) => l.includes('mount evicted by the volume server'));
    assert.equal(logged.length, 1, 'logged once');
  } finally {
    if (!resumed) a.agent.kill('SIGCONT');
  }
});

test('lease limits: an agent with SharedLeaseLimit 20 and ExclusiveLeaseLimit 5 never holds more, as GET /leases shows', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const tokenDir = localTempDir('pfs-lease-token-');
  after(() => tokenDir.remove());
  const token = adminTokenFile(tokenDir.dir);
  const c = await startMount({ proxyfsd: srv, agentConf: { ...AGENT, SharedLeaseLimit: '20', ExclusiveLeaseLimit: '5', HTTPServerTCPPort: String(port), HTTPServerAdminTokenFile: token.path } });
  try {
    const dir = join(c.mnt, 'many');
    await sh(`mkdir ${q(dir)} && for i in $(seq 1 60); do echo $i > ${q(dir)}/f$i; done`);
    const leases = async () => await (await fetch(`http://127.0.0.1:${port}/leases`)).json() as { enabled: boolean; shared: string[]; exclusive: string[] };
    const samples: { shared: number; exclusive: number }[] = [];
    const sampling = (async () => {
      for (let i = 0; i < 20; i++) {
        const l = await leases();
        samples.push({ shared: l.shared.length, exclusive: l.exclusive.length });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await sh(`for i in $(seq 1 60); do stat ${q(dir)}/f$i > /dev/null; cat ${q(dir)}/f$i > /dev/null; done`);
    await sampling;
    await new Promise((r) => setTimeout(r, 500));
    const l = await leases();
    assert.equal(l.enabled, true);
    assert.ok(l.shared.length <= 20 && l.exclusive.length <= 5, `held: ${l.shared.length} shared, ${l.exclusive.length} exclusive`);
    assert.ok(l.shared.length + l.exclusive.length >= 20, 'the limit is used, not everything dropped');
    for (const s of samples) assert.ok(s.shared <= 22 && s.exclusive <= 7, `while working: ${JSON.stringify(s)} (at most a release in flight over)`);
    const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json() as { leases: { shared: number; exclusive: number; limitRevocations: number } };
    assert.ok(stats.leases.limitRevocations >= 40, JSON.stringify(stats.leases));
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /pfsagent_leases_held\{type="exclusive"\} [0-5]\n/);
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/leases/release`, { method: 'POST', headers: token.headers })).json(), { released: l.shared.length + l.exclusive.length });
    assert.deepEqual((await leases()).shared, []);
    await c.stop(); // unmounts: a mount left behind would make the restart test below wait out the reclaim period
  } finally {
    await c.cleanup();
  }
});

test('proxyfsd killed (-9) and restarted while A buffers writes under Exclusive: A claims its leases back, so B reads A\'s data, not the stale file', { timeout: 120_000 }, async () => {
  const h = holder();
  const name = 'across-restart';
  const fd = await h.ok<number>({ op: 'open', path: join(a.mnt, name), flags: ['O_RDWR', 'O_CREAT'] });
  await h.ok({ op: 'pwrite', fd, off: 0, data: 'v1' });
  await h.ok({ op: 'fsync', fd });
  assert.equal(await onB(`cat ${q(join(b.mnt, name))}`), 'v1');
  await h.ok({ op: 'pwrite', fd, off: 0, data: 'v2, buffered on A across the restart' });
  const count = (what: string) => a.stderr().split('\n').filter((l) => l.includes(what)).length;
  const claimedBefore = count('leases and locks claimed');
  const evictionsBefore = count('mount evicted by the volume server');
  await srv.crash();
  await srv.restart();
  const until = Date.now() + 30_000;
  while (count('leases and locks claimed') === claimedBefore) {
    assert.ok(Date.now() < until, `A did not claim its leases within 30 s:\n${a.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const started = Date.now();
  assert.equal(await onB(`cat ${q(join(b.mnt, name))}`), 'v2, buffered on A across the restart',
    'the new proxyfsd knew A held the file exclusively: B\'s read waited for A to write back');
  const ms = Date.now() - started;
  const reclaimLog = srv.stderr().split('\n').filter((l) => l.includes('reclaim') || l.includes('claimed')).join('\n');
  assert.ok(ms < 8000, `B's read took ${ms} ms: the reclaim period ended early (both agents claimed), not after its 10 s\n${reclaimLog}`);
  assert.deepEqual(await h.cmd({ op: 'fsync', fd }), { ok: null }, 'A\'s application sees no error');
  await h.ok({ op: 'close', fd });
  assert.equal(count('mount evicted by the volume server'), evictionsBefore, 'A was not evicted');
  assert.match(srv.stderr(), /every mount has claimed its leases and locks/);
});
