// mount.pfs (src/cli/mount-helper.ts) through the real mount(8): `mount -t pfs`, an fstab line
// mounted with `mount -a` (the fstab is a test file, passed with --fstab), `mount` showing the
// volume, `umount` ending the session with the agent writing back and exiting; bad options and
// configs refused with mount's exit codes. The helper is linked as /sbin/mount.pfs for the test
// (a helper already there is put back afterwards).
import assert from 'node:assert/strict';
import { existsSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, agentDefaults, forceUnmount, isMounted, localTempDir, q, sh, writeAgentConf } from '../support/agent.js';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { parseMountArgs } from '../../src/cli/mount-helper.js';

const HELPER = '/sbin/mount.pfs';
const SAVED = '/sbin/mount.pfs.pfs-test-saved';
let srv: ProxyfsdHandle;
const tmp = localTempDir('pfs-mount-helper-');
const volume = 'TestVolume';

before(async () => {
  if (existsSync(HELPER) || isLink(HELPER)) renameSync(HELPER, SAVED);
  symlinkSync(join(BIN, 'mount.pfs'), HELPER);
  srv = await startProxyfsd({ backend: 'local' });
});

after(async () => {
  rmSync(HELPER, { force: true });
  if (existsSync(SAVED) || isLink(SAVED)) renameSync(SAVED, HELPER);
  await srv?.stop();
  await srv?.cleanup();
  tmp.remove();
});

function isLink(p: string): boolean {
  try {
    readlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no pfsagentd serves mnt (it exits after the unmount). */
async function agentGone(mnt: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    // The character class keeps pgrep from matching the shell that runs it.
    const r = await sh(`pgrep -f ${q(`[F]USEMountPointPath=${mnt}`)} || true`);
    if (r.stdout.trim() === '') return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const out = await sh(`tail -n 30 ${q(join(tmp.dir, 'run', `${volume}.out`))} 2>&1 || true`);
  assert.fail(`pfsagentd for ${mnt} still running after the unmount; its output:\n${out.stdout}`);
}

test('parseMountArgs: conf, timeout, ignored and refused options, -s, -f, pfs: prefix', () => {
  const r = parseMountArgs(['pfs:V1', '/mnt/x', '-o', 'rw,_netdev,conf=/etc/pfs/a.conf,x-systemd.automount,timeout=30', '-v']);
  assert.deepEqual(r, { volume: 'V1', mountPoint: '/mnt/x', conf: '/etc/pfs/a.conf', fake: false, verbose: true, timeoutS: 30 });
  assert.equal(parseMountArgs(['V1', '/mnt/x']).conf, '/etc/pfs/V1.conf');
  assert.throws(() => parseMountArgs(['V1', '/mnt/x', '-o', 'nosuid']), /option nosuid is not supported/);
  assert.throws(() => parseMountArgs(['V1', '/mnt/x', '-o', 'ro']), /read-only mounts are not supported/);
  assert.throws(() => parseMountArgs(['V1']), /expected VOLUME and DIR/);
  assert.throws(() => parseMountArgs(['../x', '/mnt/x']), /bad volume name/);
  const warned: string[] = [];
  assert.equal(parseMountArgs(['V1', '/mnt/x', '-s', '-f', '-o', 'nosuid'], (m) => warned.push(m)).fake, true);
  assert.deepEqual(warned, ['option nosuid ignored (-s)']);
});

test('mount -t pfs, mount -a from an fstab line, mount shows it, umount flushes and stops the agent', { timeout: 180_000 }, async () => {
  const mnt = join(tmp.dir, 'mnt');
  const conf = join(tmp.dir, `${volume}.conf`);
  await sh(`mkdir -p ${q(mnt)}`);
  const keys = agentDefaults(srv, join(tmp.dir, 'unused'));
  writeAgentConf(conf, keys);
  const env = { ...process.env, PFS_MOUNT_RUNDIR: join(tmp.dir, 'run') };

  // mount -t pfs: returns once mounted; the agent goes on in the background.
  await sh(`mount -t pfs ${volume} ${q(mnt)} -o conf=${q(conf)}`, { env, timeoutMs: 60_000 });
  assert.equal(await isMounted(mnt), true);
  const shown = await sh(`mount | grep -F ${q(` on ${mnt} `)}`);
  assert.match(shown.stdout, new RegExp(`^pfs:${volume} on \\S+ type fuse\\.pfs `));
  await sh(`printf 'kept after umount' > ${q(join(mnt, 'f'))}`);
  await sh(`umount ${q(mnt)}`);
  assert.equal(await isMounted(mnt), false);
  await agentGone(mnt);

  // An fstab line (with _netdev), mounted by mount -a; the data written before is there.
  const fstab = join(tmp.dir, 'fstab');
  await sh(`printf '%s\\n' ${q(`${volume} ${mnt} pfs conf=${conf},_netdev,nofail 0 0`)} > ${q(fstab)}`);
  await sh(`mount -a --fstab ${q(fstab)} -t pfs`, { env, timeoutMs: 60_000 });
  assert.equal(await isMounted(mnt), true);
  assert.equal((await sh(`cat ${q(join(mnt, 'f'))}`)).stdout, 'kept after umount');
  // Dirty data at umount: written and closed, then unmounted at once; a new mount reads it.
  await sh(`dd if=/dev/urandom of=${q(join(mnt, 'g'))} bs=64k count=16 status=none && sha256sum < ${q(join(mnt, 'g'))} > ${q(join(tmp.dir, 'g.sum'))}`);
  await sh(`umount ${q(mnt)}`);
  await agentGone(mnt);
  await sh(`mount -a --fstab ${q(fstab)} -t pfs`, { env, timeoutMs: 60_000 });
  assert.equal((await sh(`sha256sum < ${q(join(mnt, 'g'))}`)).stdout, (await sh(`cat ${q(join(tmp.dir, 'g.sum'))}`)).stdout);
  await sh(`umount ${q(mnt)}`);
  await agentGone(mnt);
});

test('mount.pfs refuses what it cannot do, with mount\'s exit codes and the reason', { timeout: 120_000 }, async () => {
  const mnt = join(tmp.dir, 'mnt2');
  const conf = join(tmp.dir, 'other.conf');
  await sh(`mkdir -p ${q(mnt)}`);
  writeAgentConf(conf, agentDefaults(srv, mnt));
  const env = { ...process.env, PFS_MOUNT_RUNDIR: join(tmp.dir, 'run') };
  const run = (cmd: string) => sh(`${cmd}; echo "exit=$?"`, { env, timeoutMs: 60_000 });
  let r = await run(`mount -t pfs OtherVolume ${q(mnt)} -o conf=${q(conf)} 2>&1`);
  assert.match(r.stdout, /FUSEVolumeName is TestVolume, not OtherVolume/);
  assert.match(r.stdout, /exit=1\n$/);
  r = await run(`mount -t pfs ${volume} ${q(mnt)} -o conf=${q(conf)},nosuid 2>&1`);
  assert.match(r.stdout, /option nosuid is not supported/);
  r = await run(`mount -t pfs ${volume} ${q(mnt)} -o conf=${q(join(tmp.dir, 'missing.conf'))} 2>&1`);
  assert.match(r.stdout, /missing\.conf/);
  assert.match(r.stdout, /exit=1\n$/);
  // The agent fails after start (no volume server there): exit 32 with the agent's own words.
  const dead = join(tmp.dir, 'dead.conf');
  writeAgentConf(dead, { ...agentDefaults(srv, mnt), RetryRPCPort: '1', RetryRPCDeadlineIO: '3s' });
  r = await run(`mount -t pfs ${volume} ${q(mnt)} -o conf=${q(dead)} 2>&1`);
  assert.match(r.stdout, /pfsagentd exited \(code \d+\) without mounting/);
  assert.match(r.stdout, /exit=32\n$/);
  assert.equal(await isMounted(mnt), false);
  await forceUnmount(mnt);
});
