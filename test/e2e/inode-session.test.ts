/**
 * The inode-based session (FUSESession: lowlevel, issue 12) against a plain directory, on the
 * cases the path-based session gets wrong (issue 21): data and size written or truncated
 * through one hard link, read through a descriptor opened by another name; fstat of an unlinked
 * open file (st_nlink 0); fchmod/futimens through a descriptor whose name was unlinked;
 * nanosecond timestamps; ctime of link, unlink, chmod, truncate and write. Each case runs in
 * test/support/inode-cases.py, on the mount and on the local disk, and the results must agree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, localTempDir, sh, startMount, type MountHandle } from '../support/agent.js';

const CASES = join(REPO, 'test/support/inode-cases.py');
let m: MountHandle;
let plain: { dir: string; remove(): void };

before(async () => {
  m = await startMount({ agentConf: { FUSESession: 'lowlevel' } });
  plain = localTempDir('pfs-inode-plain-');
});

after(async () => {
  try {
    if (m) await m.cleanup();
  } finally {
    plain?.remove();
  }
});

async function cases(dir: string): Promise<Record<string, unknown>> {
  const r = await sh(`python3 ${CASES} ${dir}`, { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('hard links, unlinked descriptors, ns times and ctime: the inode-based session agrees with the local disk', { timeout: 90_000 }, async () => {
  const [got, want] = await Promise.all([cases(join(m.mnt, 'a')), cases(join(plain.dir, 'a'))]);
  for (const name of Object.keys(want)) assert.deepEqual(got[name], want[name], `${name}: mount ${JSON.stringify(got[name])}, local disk ${JSON.stringify(want[name])}`);
});
