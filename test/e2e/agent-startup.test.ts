/**
 * pfsagentd start-up failures: each exits non-zero with a clear message and leaves nothing
 * mounted; the reference example config (adapted to our address key) starts the agent.
 * Reproduce: make build && node --test dist/test/e2e/agent-startup.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProxyfsd, freePort, REPO } from '../support/proxyfsd.js';
import { agentDefaults, isMounted, localTempDir, spawnAgent, writeAgentConf, forceUnmount } from '../support/agent.js';

test('pfsagentd refuses to start on bad config, missing or busy mount point, unreachable server, unknown volume', { timeout: 120000 }, async () => {
  const srv = await startProxyfsd();
  const tmp = localTempDir('pfs-startup-');
  const mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
  const conf = join(tmp.dir, 'agent.conf');
  const expectExit = async (overrides: string[], code: number, message: RegExp) => {
    const a = spawnAgent(conf, overrides);
    const r = await a.exited;
    assert.equal(r.code, code, `exit code for ${overrides.join(' ')}: ${a.stderr()}`);
    assert.match(a.stderr(), message);
    assert.equal(await isMounted(mnt), false, 'nothing may stay mounted');
  };
  try {
    writeAgentConf(conf, { ...agentDefaults(srv, mnt), RetryRPCDeadlineIO: '2s', MaxFlushSize: 'lots' });
    await expectExit([], 2, /agent\.conf:\d+: \[Agent\] MaxFlushSize: "lots"/);
    writeAgentConf(conf, { ...agentDefaults(srv, mnt), RetryRPCDeadlineIO: '2s' });
    await expectExit(['Agent.MaxFlushSize=lots'], 2, /override "Agent\.MaxFlushSize=lots"/);
    await expectExit(['Agent.NoSuchKey=1'], 2, /NoSuchKey/);
    await expectExit([`Agent.FUSEMountPointPath=${join(tmp.dir, 'missing')}`], 1, /does not exist/);
    await expectExit(['Agent.FUSEVolumeName=NoSuchVolume'], 1, /NoSuchVolume/);
    await expectExit([`Agent.RetryRPCPort=${await freePort()}`], 1, /unreachable/);
    // A deadline past the server's ReplyCacheTTL (10m) would let a resent call run twice (issue 20).
    await expectExit(['Agent.RetryRPCDeadlineIO=10m'], 2, /RetryRPCDeadlineIO: 600000 ms is not below the volume server's ReplyCacheTTL \(600000 ms\)/);
    // busy: another agent already has it mounted
    const first = spawnAgent(conf);
    for (let i = 0; i < 100 && !first.stdout().includes('pfsagentd: mounted'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(first.stdout(), /pfsagentd: mounted/);
    const second = spawnAgent(conf);
    const r = await second.exited;
    assert.equal(r.code, 1);
    assert.match(second.stderr(), /busy/);
    first.proc.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);
    assert.equal(await isMounted(mnt), false);
  } finally {
    await forceUnmount(mnt);
    await srv.stop();
    await srv.cleanup();
    tmp.remove();
  }
});

test('the reference PFSAgent example config, adapted to our volume-server address key, starts the agent', { timeout: 60000 }, async () => {
  const srv = await startProxyfsd({ volume: 'CommonVolume' });
  const tmp = localTempDir('pfs-refconf-');
  try {
    mkdirSync(join(tmp.dir, 'AgentMountPoint'));
    const conf = join(tmp.dir, 'reference.conf');
    writeFileSync(conf, readFileSync(join(REPO, 'conf/pfsagentd-reference.conf'), 'utf8'), { mode: 0o600 }); // it holds a secret
    const a = spawnAgent(conf, [`Agent.RetryRPCPort=${srv.port}`, 'Agent.LogFilePath=', 'Agent.HTTPServerTCPPort=0']);
    for (let i = 0; i < 100 && !a.stdout().includes('pfsagentd: mounted'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(a.stdout(), /pfsagentd: mounted CommonVolume/, a.stderr());
    a.proc.kill('SIGINT');
    assert.equal((await a.exited).code, 0, a.stderr());
  } finally {
    await forceUnmount(join(tmp.dir, 'AgentMountPoint'));
    await srv.stop();
    await srv.cleanup();
    tmp.remove();
  }
});
