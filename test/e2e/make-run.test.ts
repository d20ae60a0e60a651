/**
 * `make run`'s supervisor (scripts/run.sh) with real daemons and real programs:
 * - proxyfsd is killed with SIGKILL three times while `tar x` unpacks a tree into the mount: the
 *   supervisor starts it again each time, the agent rides it out, tar exits 0 and the tree is
 *   identical;
 * - the agent is killed with SIGKILL: the supervisor detaches the dead mount and starts a new
 *   agent, and the files are there;
 * - SIGTERM stops everything within its bound: exit 0, nothing mounted, no daemon left;
 * - an agent whose store refuses every PUT stops on SIGTERM after ShutdownFlushTimeout, exit 1.
 *
 * Reproduce: make build && node --test dist/test/e2e/make-run.test.js
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, isMounted, localTempDir, q, sh, startMount } from '../support/agent.js';
import { freePort } from '../support/proxyfsd.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The pid of the process whose command line contains `text` (pgrep run directly: no shell whose own command line would match). */
async function pidOf(text: string): Promise<number | undefined> {
  const regex = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const out = await new Promise<string>((res) => execFile('pgrep', ['-f', regex], (_err, stdout) => res(stdout)));
  const pid = Number(out.trim().split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

test('make run: proxyfsd killed three times under tar x, the agent killed once; SIGTERM stops it all', { timeout: 300_000 }, async () => {
  const t = localTempDir('pfs-make-run-');
  const data = join(t.dir, 'data');
  const mnt = join(t.dir, 'mnt');
  const src = join(t.dir, 'src');
  const port = await freePort();
  // A tree of 1 500 files (empty to 64 KiB) in nested directories, with symlinks and modes.
  mkdirSync(src);
  await sh(`python3 - ${q(src)} <<'EOF'
import os, random, sys
random.seed(19)
root = sys.argv[1]
for i in range(1500):
    d = os.path.join(root, 'd%d' % (i % 37), 'e%d' % (i % 5))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, 'f%d' % i)
    with open(p, 'wb') as f:
        f.write(os.urandom(random.choice([0, 10, 700, 4096, 20000, 65536])))
    os.chmod(p, random.choice([0o644, 0o600, 0o755]))
    if i % 100 == 0:
        os.symlink('f%d' % i, os.path.join(d, 'l%d' % i))
EOF
tar -C ${q(src)} -cf ${q(join(t.dir, 'tree.tar'))} .`);
  const env = { ...process.env, PFS_DATA: data, PFS_MOUNT: mnt, PFS_PORT: String(port), STOP_GRACE_S: '60' };
  const run = spawn('bash', [join(REPO, 'scripts/run.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  run.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  run.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
  const serverPattern = `${data}/proxyfsd.conf`;
  const agentPattern = `Agent.FUSEMountPointPath=${mnt}`;
  try {
    await until('the mount', () => isMounted(mnt), 60_000);
    const dest = join(mnt, 'tree');
    await sh(`mkdir ${q(dest)}`);
    const tar = sh(`tar -C ${q(dest)} -xf ${q(join(t.dir, 'tree.tar'))}`, { allowFail: true, timeoutMs: 240_000 });
    let tarDone = false;
    void tar.then(() => { tarDone = true; });
    for (let kill = 1; kill <= 3; kill++) {
      await sleep(1500);
      assert.equal(tarDone, false, `tar was still running at kill ${kill} (make the tree bigger if this machine is faster)`);
      const pid = await pidOf(serverPattern);
      assert.ok(pid, `proxyfsd running before kill ${kill}\n${out}`);
      process.kill(pid, 'SIGKILL');
      await until(`proxyfsd started again after kill ${kill}`, async () => { const p = await pidOf(serverPattern); return p !== undefined && p !== pid; }, 20_000);
    }
    const r = await tar;
    assert.equal(r.code, 0, `tar: ${r.stderr.slice(0, 2000)}\n${out}`);
    const diff = await sh(`diff -r --no-dereference ${q(src)} ${q(dest)} && echo same`, { allowFail: true, timeoutMs: 120_000 });
    assert.equal(diff.stdout.trim(), 'same', diff.stdout.slice(0, 2000) + diff.stderr.slice(0, 2000));
    assert.equal((out.match(/proxyfsd exited/g) ?? []).length, 3, out);

    // The agent dies: the supervisor detaches the dead mount and mounts again.
    const agent = await pidOf(agentPattern);
    assert.ok(agent);
    process.kill(agent, 'SIGKILL');
    await until('a new agent', async () => { const p = await pidOf(agentPattern); return p !== undefined && p !== agent; }, 20_000);
    await until('the mount again', async () => (await sh(`ls ${q(dest)} | wc -l`, { allowFail: true })).stdout.trim() === '37', 30_000);
    assert.match(out, /pfsagentd died/);

    run.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.equal(await isMounted(mnt), false);
    assert.equal(await pidOf(serverPattern), undefined);
    assert.equal(await pidOf(agentPattern), undefined);
  } finally {
    if (run.exitCode === null) {
      run.kill('SIGKILL');
      for (const p of [serverPattern, agentPattern]) { const pid = await pidOf(p); if (pid) process.kill(pid, 'SIGKILL'); }
      await sh(`fusermount -u -z ${q(mnt)}`, { allowFail: true });
    }
    t.remove();
  }
});

test('stopping is bounded: a store that refuses every PUT makes SIGTERM give the buffered writes up after ShutdownFlushTimeout (exit 1, logged), unmount and exit', { timeout: 120_000 }, async () => {
  const m = await startMount({ agentConf: { ShutdownFlushTimeout: '2s', FUSEUnMountRetryCap: '5' } });
  const objects = new URL(m.proxyfsd.objectStoreUrl).pathname;
  // Holds the file open (its bytes buffered in the agent) while the flag file exists.
  const flag = join(m.dir, 'holding');
  await sh(`touch ${q(flag)}`);
  const holder = sh(`python3 -c "import os, time; fd = os.open('${join(m.mnt, 'held')}', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'x' * 1048576)
while os.path.exists('${flag}'): time.sleep(0.1)"`, { allowFail: true, timeoutMs: 90_000 });
  try {
    await until('the write', async () => (await sh(`stat -c %s ${q(join(m.mnt, 'held'))}`, { allowFail: true })).stdout.trim() === '1048576', 30_000);
    // Immutable: every PUT fails with EPERM (retried as an object-store failure), also for root.
    await sh(`chattr +i ${q(objects)}`);
    const started = Date.now();
    m.agent.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => m.agent.once('exit', (c) => r(c)));
    const ms = Date.now() - started;
    assert.equal(code, 1, m.stderr().slice(-3000));
    assert.ok(ms < 30_000, `stopped in ${ms} ms`);
    assert.match(m.stderr(), /buffered writes did not reach the object store within ShutdownFlushTimeout/);
    assert.match(m.stderr(), /giving up buffered writes that were not stored in time/);
    assert.equal(await isMounted(m.mnt), false);
  } finally {
    await sh(`chattr -i ${q(objects)}`, { allowFail: true });
    await sh(`rm -f ${q(flag)}`);
    await holder;
    await m.cleanup();
    await m.proxyfsd.cleanup();
  }
});
