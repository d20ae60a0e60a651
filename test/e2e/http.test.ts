/**
 * The HTTP servers of a real agent (and of its proxyfsd) while applications use the mount:
 * /health is ready, /metrics (parsed strictly) and /stats move with file I/O done by child
 * processes, `pfs stats URL --count 2` prints two lines, no answer and no log line holds the
 * plug-in secret, trace lines are written per FUSE op and SIGHUP reopens the log file, the
 * systemd unit's readiness wait passes, the server listens only where configured (and not at
 * all with port 0), and an unusable port is a start-up error that leaves nothing mounted.
 * Reproduce: make build && node --test dist/test/e2e/http.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, readdirSync, renameSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseExposition, sampleSum, sampleValue, type Family } from '../../src/common/metrics/test-support.js';
import { BIN, REPO, adminTokenFile, isMounted, localTempDir, q, sh, spawnAgent, startMount, writeAgentConf, agentDefaults, forceUnmount } from '../support/agent.js';
import { freePort, startProxyfsd } from '../support/proxyfsd.js';

const MARKER = 'pfs-e2e-secret-4b1d';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metrics(base: string): Promise<Map<string, Family>> {
  const r = await fetch(`${base}/metrics`);
  assert.equal(r.status, 200);
  return parseExposition(await r.text());
}

/** host:port of every TCP socket the process listens on (its fds against its namespace's tables). */
function listening(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue;
      const [hexIp, hexPort] = f[1]!.split(':') as [string, string];
      const ip = hexIp.length === 8 ? hexIp.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join('.') : hexIp;
      out.push(`${ip}:${parseInt(hexPort, 16)}`);
    }
  }
  return out;
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('agent and proxyfsd HTTP servers on a real mount', { timeout: 180_000 }, async () => {
  const adminPort = await freePort();
  const srv = await startProxyfsd({ backend: 'local', extraConf: `[HTTPServer]\nIPAddr: 127.0.0.1\nTCPPort: ${adminPort}\n` });
  const logs = localTempDir('pfs-http-logs-');
  const port = await freePort();
  const logFile = join(logs.dir, 'agent.log');
  const base = `http://127.0.0.1:${port}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const adminToken = adminTokenFile(logs.dir);
  let m: Awaited<ReturnType<typeof startMount>> | undefined;
  try {
    m = await startMount({
      proxyfsd: srv,
      agentConf: {
        HTTPServerIPAddr: '127.0.0.1', HTTPServerTCPPort: String(port), HTTPServerAdminTokenFile: adminToken.path,
        LogFilePath: logFile, LogToConsole: 'false', TraceEnabled: 'true', PlugInEnvValue: MARKER,
      },
    });
    // Started before "mounted" was printed: ready at once.
    assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ready' });
    assert.deepEqual(listening(m.agent.pid!), [`127.0.0.1:${port}`], 'the agent listens on the configured address only');

    const before = await metrics(base);
    const file = join(m.mnt, 'data.bin');
    await sh(`dd if=/dev/urandom of=${q(file)} bs=64k count=32 conv=fsync status=none && cat ${q(file)} > /dev/null && ls -l ${q(m.mnt)} > /dev/null && ! stat ${q(join(m.mnt, 'nope'))} 2>/dev/null`);
    const after = await metrics(base);
    const moved = (name: string, labels: Record<string, string> = {}) => sampleSum(after, name, labels) - sampleSum(before, name, labels);
    assert.ok(moved('pfsagent_fuse_ops_total', { op: 'write' }) >= 16, 'write ops counted');
    assert.ok(moved('pfsagent_fuse_ops_total', { op: 'create' }) >= 1);
    assert.ok(moved('pfsagent_fuse_ops_total', { op: 'read' }) >= 1);
    assert.ok(moved('pfsagent_fuse_op_errors_total', { errno: 'ENOENT' }) >= 1, 'the failed stat is an ENOENT');
    assert.equal(moved('pfsagent_fuse_written_bytes_total'), 2 << 20);
    assert.ok(moved('pfsagent_fuse_read_bytes_total') >= 2 << 20);
    assert.ok(moved('pfsagent_fuse_op_duration_seconds_count', { op: 'write' }) >= 16);
    assert.ok(moved('pfsagent_rpc_calls_total', { method: 'Wrote', result: 'ok' }) >= 1);
    assert.ok(moved('pfsagent_rpc_duration_seconds_count', { method: 'Wrote' }) >= 1);
    assert.ok(moved('pfsagent_objectstore_requests_total', { backend: 'local', op: 'put' }) >= 1);
    assert.ok(moved('pfsagent_objectstore_bytes_total', { backend: 'local', op: 'put' }) >= 2 << 20);
    assert.ok(moved('pfsagent_readcache_misses_total') + moved('pfsagent_readcache_hits_total') >= 1);
    assert.ok(moved('pfsagent_writeback_segments_written_total') >= 1);
    assert.equal(sampleValue(after, 'pfsagent_writeback_dirty_bytes'), 0, 'fsynced and closed: nothing dirty');
    assert.ok(sampleValue(after, 'process_resident_memory_bytes') > 0);

    const stats = await (await fetch(`${base}/stats`)).json() as { fuse: { writtenBytes: number }; writeback: { dirtyBytes: number } };
    assert.ok(stats.fuse.writtenBytes >= 2 << 20);
    assert.equal(stats.writeback.dirtyBytes, 0);

    const pfsStats = await sh(`${q(join(BIN, 'pfs'))} stats ${q(base)} --count 2`, { timeoutMs: 30_000 });
    const lines = pfsStats.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, pfsStats.stdout);
    for (const l of lines) assert.match(l, /^time=\S+ ops=\d+ read_mib_s=[\d.]+ write_mib_s=[\d.]+ cache_hit_pct=\S+ dirty_mib=[\d.]+ /);

    // Secrets: no answer shows the plug-in value.
    const cfg = await (await fetch(`${base}/config?compact`)).json() as { sections: { Agent: Record<string, unknown> } };
    assert.equal(cfg.sections.Agent.PlugInEnvValue, '[REDACTED]');
    for (const path of ['/', '/config', '/stats', '/metrics', '/leases', '/version', '/health']) {
      assert.equal((await (await fetch(`${base}${path}`)).text()).includes(MARKER), false, path);
    }
    // State changes need the admin token: without it nothing is demoted.
    const exclusiveBefore = ((await (await fetch(`${base}/leases`)).json()) as { exclusive: string[] }).exclusive;
    assert.ok(exclusiveBefore.length > 0, 'the written file holds an Exclusive lease');
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }] as Record<string, string>[]) {
      assert.equal((await fetch(`${base}/leases/demote`, { method: 'POST', headers })).status, 401);
    }
    assert.deepEqual(((await (await fetch(`${base}/leases`)).json()) as { exclusive: string[] }).exclusive, exclusiveBefore, 'a POST without the token changed nothing');
    const demoted = await fetch(`${base}/leases/demote`, { method: 'POST', headers: adminToken.headers });
    assert.equal(demoted.status, 200);
    assert.equal(typeof ((await demoted.json()) as { demoted: number }).demoted, 'number');
    const held = await (await fetch(`${base}/leases`)).json() as { enabled: boolean; exclusive: string[] };
    assert.deepEqual([held.enabled, held.exclusive], [true, []], 'every Exclusive lease demoted');
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

    // Trace lines, and SIGHUP reopening the log file after rotation.
    await waitFor('trace lines', async () => (await readFile(logFile, 'utf8')).includes('"msg":"fuse op"'));
    const trace = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'fuse op');
    const write = trace.find((l) => l.op === 'write');
    assert.ok(write && typeof write.ms === 'number' && write.result === 'ok', JSON.stringify(write));
    // The path-based session traces getattr of the path, the inode-based one lookup of the name.
    const missing = (l: Record<string, unknown>) => l.result === 'ENOENT' &&
      ((l.op === 'getattr' && l.detail === '/nope') || (l.op === 'lookup' && (l.detail as { name?: string })?.name === 'nope'));
    assert.ok(trace.some(missing), 'a trace line of the failed stat');
    renameSync(logFile, `${logFile}.1`);
    m.agent.kill('SIGHUP');
    await sleep(200);
    await sh(`ls ${q(m.mnt)} > /dev/null`);
    await waitFor('a new log file after SIGHUP', async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('"msg":"fuse op"'));

    // proxyfsd's admin server sees the mount and counts its RPCs.
    const mounts = await (await fetch(`${admin}/mounts`)).json() as { volume: string; connected: boolean; openFiles: { inodes: number } }[];
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]!.volume, srv.volume);
    assert.equal(mounts[0]!.connected, true);
    assert.equal((await fetch(`${admin}/health`)).status, 200);
    const vm = await metrics(admin);
    assert.ok(sampleValue(vm, 'proxyfsd_rpc_calls_total', { method: 'Wrote', result: 'ok' }) >= 1);
    assert.ok(sampleValue(vm, 'proxyfsd_commits_total') >= 1);
    assert.equal(sampleValue(vm, 'proxyfsd_mounts', { volume: srv.volume, connected: 'true' }), 1);
    const leases = await (await fetch(`${admin}/leases`)).json() as { enabled: boolean; mounts: { volume: string; evicted: boolean }[] };
    assert.equal(leases.enabled, true);
    assert.deepEqual(leases.mounts.map((x) => [x.volume, x.evicted]), [[srv.volume, false]]);

    // The systemd unit's readiness wait, run as systemd would run it.
    const unit = readFileSync(join(REPO, 'conf/pfsagentd@.service'), 'utf8');
    const post = /^ExecStartPost=\/bin\/sh -c '(.*)'$/m.exec(unit);
    assert.ok(post, 'the unit waits on /health in ExecStartPost');
    const script = post[1]!.replace(/\$\$/g, '$').replace(/%i/g, 'test');
    await sh(script, { env: { PFS_HEALTH_URL: `${base}/health` }, timeoutMs: 30_000 });

    await m.stop();
    await assert.rejects(fetch(`${base}/health`), 'closed with the agent');
    const logText = `${readFileSync(`${logFile}.1`, 'utf8')}${readFileSync(logFile, 'utf8')}`;
    assert.equal(logText.includes(MARKER), false, 'the secret is in no log line');
  } finally {
    await m?.cleanup().catch(() => undefined);
    logs.remove();
  }

  // HTTPServerTCPPort 0 (the test default): the agent listens on nothing.
  const plain = await startMount({ proxyfsd: srv });
  try {
    assert.deepEqual(listening(plain.agent.pid!), []);
    await plain.stop();
  } finally {
    await plain.cleanup();
  }

  // A port that cannot be bound (proxyfsd's admin server has it): exit 1, nothing mounted.
  const tmp = localTempDir('pfs-http-busy-');
  try {
    const mnt = join(tmp.dir, 'mnt');
    await sh(`mkdir ${q(mnt)}`);
    const conf = join(tmp.dir, 'agent.conf');
    writeAgentConf(conf, { ...agentDefaults(srv, mnt), HTTPServerIPAddr: '127.0.0.1', HTTPServerTCPPort: String(adminPort) });
    const a = spawnAgent(conf);
    const r = await a.exited;
    assert.equal(r.code, 1, a.stderr());
    assert.match(a.stderr(), /HTTP server cannot listen on 127\.0\.0\.1:\d+ \(\[Agent\] HTTPServerIPAddr, HTTPServerTCPPort\): .*EADDRINUSE/);
    assert.equal(await isMounted(mnt), false);
    await forceUnmount(mnt);
  } finally {
    tmp.remove();
    await srv.stop();
    await srv.cleanup();
  }
});
