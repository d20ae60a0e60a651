/**
 * Issue 17 item 4 (docs/SECURITY.md §1, "a spoofed volume server"): the agent does not take the
 * object store's location from the volume server's word alone. A real proxyfsd names its store
 * in the Mount reply; a real pfsagentd whose [Agent] ObjectStoreURL names another store refuses
 * to mount with an error naming both, and one naming the same store (written differently)
 * mounts. Without ObjectStoreURL the default policy refuses a local store in a system directory
 * or one others can write.
 *
 * Reproduce: make build && node --test dist/test/security/store-location.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import type { BackendKeys } from '../support/backends.js';
import { agentDefaults, forceUnmount, isMounted, localTempDir, q, sh, spawnAgent, writeAgentConf } from '../support/agent.js';

async function withAgentConf(srv: ProxyfsdHandle, body: (conf: string, mnt: string) => Promise<void>): Promise<void> {
  const tmp = localTempDir('pfs-store-loc-');
  const mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
  try {
    await body(join(tmp.dir, 'agent.conf'), mnt);
  } finally {
    await forceUnmount(mnt);
    tmp.remove();
  }
}

/** Starts the agent and expects it to refuse: exit code 2, nothing mounted, stderr matching `why`. */
async function expectRefusal(conf: string, mnt: string, why: RegExp): Promise<string> {
  const a = spawnAgent(conf);
  const r = await a.exited;
  assert.equal(r.code, 2, `exit code: ${a.stderr()}`);
  assert.match(a.stderr(), why);
  assert.equal(await isMounted(mnt), false, 'nothing may stay mounted');
  return a.stderr();
}

/** Starts the agent, expects it to mount within 30 s, runs `use`, then stops it (exit code 0). */
async function expectMount(conf: string, use: () => Promise<void>): Promise<void> {
  const a = spawnAgent(conf);
  try {
    for (let i = 0; i < 300 && !a.stdout().includes('pfsagentd: mounted'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(a.stdout(), /pfsagentd: mounted/, a.stderr());
    await use();
  } finally {
    a.proc.kill('SIGTERM');
    assert.equal((await a.exited).code, 0, a.stderr());
  }
}

test('an agent whose ObjectStoreURL names another store refuses to mount, naming both; the same store (written differently) mounts', { timeout: 120_000 }, async () => {
  const srv = await startProxyfsd();
  const objects = join(srv.dir, 'objects');
  try {
    await withAgentConf(srv, async (conf, mnt) => {
      const other = join(srv.dir, 'elsewhere');
      mkdirSync(other, { mode: 0o700 });
      writeAgentConf(conf, { ...agentDefaults(srv, mnt), ObjectStoreURL: `file://${other}` });
      await expectRefusal(conf, mnt, new RegExp(`^pfsagentd: PFS_ERR_CONFIG: the volume server names object store file://${objects}, but \\[Agent\\] ObjectStoreURL is file://${other}: refusing to mount`, 'm'));
      assert.deepEqual(readdirSync(other), [], 'nothing written to either store');

      writeAgentConf(conf, { ...agentDefaults(srv, mnt), ObjectStoreURL: 's3://pfs-bucket?endpoint=https://s3.example.com' });
      await expectRefusal(conf, mnt, /names object store file:\/\/.*, but \[Agent\] ObjectStoreURL is s3:\/\/pfs-bucket\?endpoint=https:\/\/s3\.example\.com: refusing/);

      writeAgentConf(conf, { ...agentDefaults(srv, mnt), ObjectStoreURL: `file://localhost${objects}/` });
      await expectMount(conf, async () => {
        const before = readdirSync(objects).length;
        await sh(`echo hello > ${q(join(mnt, 'f'))} && sync ${q(join(mnt, 'f'))}`);
        assert.equal((await sh(`cat ${q(join(mnt, 'f'))}`)).stdout, 'hello\n');
        assert.ok(readdirSync(objects).length > before, 'the data went to the store both name');
      });
    });
  } finally {
    await srv.stop();
    await srv.cleanup();
  }
});

test('without ObjectStoreURL: a local store in a system directory, or one others can write, is refused; a private one mounts', { timeout: 120_000 }, async () => {
  // A volume server (loopback) whose store is under /dev: as a spoofed one naming a system directory.
  const shm = `/dev/shm/pfs-store-loc-${process.pid}`;
  const store = { objectStoreUrl: `file://${shm}`, keys: {} } as unknown as BackendKeys;
  const srv = await startProxyfsd({ backend: 'local', store });
  try {
    await withAgentConf(srv, async (conf, mnt) => {
      writeAgentConf(conf, agentDefaults(srv, mnt));
      const err = await expectRefusal(conf, mnt, new RegExp(`the volume server names object store file://${shm}, which this agent does not use unless its own \\[Agent\\] ObjectStoreURL names it too: ${shm} is a system directory`));
      assert.doesNotMatch(err, /PlugInEnvValue|AuthKey/);
    });
  } finally {
    await srv.stop();
    await srv.cleanup();
    rmSync(shm, { recursive: true, force: true });
  }

  const local = await startProxyfsd({ backend: 'local' });
  const objects = join(local.dir, 'objects');
  try {
    await withAgentConf(local, async (conf, mnt) => {
      writeAgentConf(conf, agentDefaults(local, mnt));
      chmodSync(objects, 0o777);
      await expectRefusal(conf, mnt, /objects is writable by its group or by everyone \(mode 777\)/);
      chmodSync(objects, 0o700);
      await expectMount(conf, async () => undefined);
    });
  } finally {
    await local.stop();
    await local.cleanup();
  }
});
