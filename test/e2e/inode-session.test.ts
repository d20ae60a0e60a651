/**
 * The inode-based session (FUSESession: lowlevel, issue 12) against a plain directory, on the
 * cases the path-based session gets wrong (issue 21): data and size written or truncated
 * through one hard link, read through a descriptor opened by another name; fstat of an unlinked
 * open file (st_nlink 0); fchmod/futimens through a descriptor whose name was unlinked;
 * nanosecond timestamps; ctime of link, unlink, rename, chmod, chown, setxattr, truncate and
 * write; the first two also with the other name opened through a second mount of the volume.
 * Each case runs in test/support/inode-cases.py, on the mounts and on the local disk, and the
 * results must agree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, localTempDir, sh, startMount, type MountHandle } from '../support/agent.js';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';

const CASES = join(REPO, 'test/support/inode-cases.py');
let srv: ProxyfsdHandle;
let m: MountHandle;
let m2: MountHandle;
let plain: { dir: string; remove(): void };

before(async () => {
  srv = await startProxyfsd();
  m = await startMount({ proxyfsd: srv, agentConf: { FUSESession: 'lowlevel' } });
  m2 = await startMount({ proxyfsd: srv, agentConf: { FUSESession: 'lowlevel' } });
  plain = localTempDir('pfs-inode-plain-');
});

after(async () => {
  try {
    if (m) await m.cleanup();
    if (m2) await m2.cleanup();
    await srv?.cleanup();
  } finally {
    plain?.remove();
  }
});

async function cases(dir: string, other = dir): Promise<Record<string, unknown>> {
  const r = await sh(`python3 ${CASES} ${dir} ${other}`, { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('hard links, unlinked descriptors, ns times and ctime: the inode-based session agrees with the local disk', { timeout: 90_000 }, async () => {
  const [got, want] = await Promise.all([cases(join(m.mnt, 'a'), join(m2.mnt, 'a')), cases(join(plain.dir, 'a'))]);
  for (const name of Object.keys(want)) assert.deepEqual(got[name], want[name], `${name}: mount ${JSON.stringify(got[name])}, local disk ${JSON.stringify(want[name])}`);
});
