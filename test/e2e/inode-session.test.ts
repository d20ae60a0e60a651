/**
 * The inode-based session (FUSESession: lowlevel, issue 12) against a plain directory, on the
 * cases the path-based session gets wrong (issue 21): data and size written or truncated
 * through one hard link, read through a descriptor opened by another name; fstat of an unlinked
 * open file (st_nlink 0); fchmod/futimens through a descriptor whose name was unlinked;
 * nanosecond timestamps; fstat of an open directory or FIFO after it was removed (here or through
 * the second mount); ctime of link, unlink, rename, chmod, chown, setxattr, truncate and
 * write; the first two also with the other name opened through a second mount of the volume.
 * Each case runs in test/support/inode-cases.py, on the mounts and on the local disk, and the
 * results must agree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, localTempDir, sh, startMount, type MountHandle } from '../support/agent.js';
import { freePort, startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { parseExposition, sampleSum } from '../../src/common/metrics/test-support.js';

const CASES = join(REPO, 'test/support/inode-cases.py');
let srv: ProxyfsdHandle;
let m: MountHandle;
let m2: MountHandle;
let plain: { dir: string; remove(): void };

let metricsBase: string;

before(async () => {
  srv = await startProxyfsd();
  const httpPort = await freePort();
  metricsBase = `http://127.0.0.1:${httpPort}`;
  m = await startMount({ proxyfsd: srv, agentConf: { FUSESession: 'lowlevel', HTTPServerTCPPort: String(httpPort), TraceEnabled: 'true' } });
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

/** Counts of the first mount's agent: RPCs by method, and getattr requests of one inode (from its trace lines). */
async function counts(): Promise<{ rpc(method: string): number; getattrOf(ino: number): number }> {
  const fams = parseExposition(await (await fetch(`${metricsBase}/metrics`)).text());
  const trace = m.stderr();
  return {
    rpc: (method) => sampleSum(fams, 'pfsagent_rpc_calls_total', { method }),
    getattrOf: (ino) => trace.split('\n').filter((l) => l.includes('"op":"getattr"') && l.includes(`"detail":{"ino":${ino},`)).length,
  };
}

test('attributes of a file leased here are kept by the kernel and the agent (no getattr, no GetAttr); a change through another mount is seen at once', { timeout: 90_000 }, async () => {
  const f = join(m.mnt, 'leased-stat');
  const g = join(m2.mnt, 'leased-stat');
  const stat = `python3 -c "import os, sys; s = [os.stat(sys.argv[1]) for _ in range(int(sys.argv[2]))][-1]; print(oct(s.st_mode & 0o7777), s.st_nlink, s.st_size, s.st_ctime_ns)"`;
  await sh(`printf hello > ${f}`);
  const first = (await sh(`${stat} ${f} 1`)).stdout.trim().split(' ');
  const ino = Number((await sh(`stat -c %i ${f}`)).stdout.trim());
  const before = await counts();
  const many = (await sh(`${stat} ${f} 500`)).stdout.trim().split(' ');
  const after = await counts();
  assert.deepEqual(many, first);
  assert.equal(after.getattrOf(ino) - before.getattrOf(ino), 0, 'the kernel kept the attributes');
  // The name is kept under the root's directory lease and the root's attributes too (the
  // kernel's permission check): nothing leaves the machine.
  assert.equal(after.rpc('Lookup') - before.rpc('Lookup'), 0, 'Lookup calls for 500 stats');
  assert.equal(after.rpc('GetAttr') - before.rpc('GetAttr'), 0, 'GetAttr calls for 500 stats');

  // Each change on the second mount revokes the lease here first, so the next stat is current.
  const seen = async (change: string) => {
    await sh(change);
    const [mode, nlink, size, ctime] = (await sh(`${stat} ${f} 1`)).stdout.trim().split(' ');
    const [mode2, nlink2, size2, ctime2] = (await sh(`${stat} ${g} 1`)).stdout.trim().split(' ');
    assert.deepEqual([mode, nlink, size, ctime], [mode2, nlink2, size2, ctime2], `after ${change}: this mount and the one that changed it agree`);
    return { mode, nlink: Number(nlink), size: Number(size), ctime };
  };
  assert.equal((await seen(`chmod 600 ${g}`)).mode, '0o600');
  assert.equal((await seen(`ln ${g} ${g}.2`)).nlink, 2);
  const c1 = (await seen(`rm ${g}.2`));
  assert.equal(c1.nlink, 1);
  assert.notEqual((await seen(`mv ${g} ${g}.m && mv ${g}.m ${g}`)).ctime, first[3]);
  assert.equal((await seen(`printf 'more bytes' >> ${g}`)).size, 15);
  assert.equal((await seen(`setfattr -n user.k -v v ${g} 2>/dev/null || python3 -c "import os; os.setxattr('${g}', 'user.k', b'v')"`)).size, 15);
});

test('names and directory attributes are kept under directory leases (no Lookup, no GetAttr); every change through the other mount is seen at once', { timeout: 90_000 }, async () => {
  const top = join(m.mnt, 'dl');
  const other = join(m2.mnt, 'dl');
  await sh(`mkdir -p ${top}/a/b/c && printf x > ${top}/a/b/c/f`);
  const statAll = `python3 -c "import os, sys; [os.stat(sys.argv[1]) for _ in range(int(sys.argv[2]))]"`;
  await sh(`${statAll} ${top}/a/b/c/f 2`);
  const before = await counts();
  await sh(`${statAll} ${top}/a/b/c/f 500`);
  const after = await counts();
  assert.equal(after.rpc('Lookup') - before.rpc('Lookup'), 0, 'a path seen before is not looked up again');
  assert.equal(after.rpc('GetAttr') - before.rpc('GetAttr'), 0, 'nor are the attributes of its directories asked');

  // A name or attribute another mount changes is seen by the next call here, not after a timeout.
  const here = async (cmd: string) => (await sh(cmd, { timeoutMs: 30_000, allowFail: true })).stdout.trim();
  const exists = (p: string) => here(`test -e ${p} && echo yes || echo no`);
  for (let i = 0; i < 20; i++) {
    await sh(`touch ${other}/a/b/c/n${i}`);
    assert.equal(await exists(`${top}/a/b/c/n${i}`), 'yes', `round ${i}: created there`);
    await sh(`rm ${other}/a/b/c/n${i}`);
    assert.equal(await exists(`${top}/a/b/c/n${i}`), 'no', `round ${i}: removed there`);
  }
  await sh(`mv ${other}/a/b/c ${other}/a/b/c2`);
  assert.deepEqual([await exists(`${top}/a/b/c/f`), await exists(`${top}/a/b/c2/f`)], ['no', 'yes'], 'a directory renamed there');
  await sh(`chmod 700 ${other}/a/b`);
  assert.equal(await here(`stat -c %a ${top}/a/b`), '700', 'a directory\'s mode changed there');
  await sh(`mkdir ${other}/a/b/new && ln -s f ${other}/a/b/c2/link && mv ${other}/a/b/c2/f ${other}/a/b/new/f`);
  assert.equal(await here(`ls ${top}/a/b/new; readlink ${top}/a/b/c2/link; test -e ${top}/a/b/c2/f || echo gone`), 'f\nf\ngone');
  await sh(`rm -r ${other}/a/b/new ${other}/a/b/c2`);
  assert.equal(await here(`ls -A ${top}/a/b; stat -c %h ${top}/a/b`), '2', 'both directories removed there: only . and .. are left');
  // And the other way round, with a name this mount looked up before the change.
  await sh(`touch ${top}/a/back && ${statAll} ${other}/a/back 2`);
  await sh(`mv ${top}/a/back ${top}/a/forth`);
  assert.equal(await here(`test -e ${other}/a/back && echo yes || echo no; test -e ${other}/a/forth && echo yes`), 'no\nyes');
});

test('files created in a directory made here: no Lookup (the agent knows every name) and no GetAttr (the parent\'s attributes come with each change); a name made through the other mount is found', { timeout: 90_000 }, async () => {
  const dir = join(m.mnt, 'made-here');
  await sh(`mkdir ${dir}`);
  const before = await counts();
  await sh(`python3 -c "
import os, sys
for i in range(50):
    fd = os.open(os.path.join(sys.argv[1], 'f%d' % i), os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'x' * 4096); os.close(fd)
    os.stat(sys.argv[1])
" ${dir}`);
  const after = await counts();
  assert.equal(after.rpc('Create') - before.rpc('Create'), 50);
  assert.equal(after.rpc('Lookup') - before.rpc('Lookup'), 0, 'every missing name answered here');
  assert.equal(after.rpc('GetAttr') - before.rpc('GetAttr'), 0, 'the directory\'s attributes kept after each change');
  assert.equal((await sh(`stat -c '%h %s' ${dir}/f7; ls ${dir} | wc -l`)).stdout, '1 4096\n50\n');
  // The other mount's change breaks this mount's lease: the directory is no longer complete here.
  await sh(`touch ${join(m2.mnt, 'made-here', 'from-m2')} && mkdir ${join(m2.mnt, 'made-here', 'd2')}`);
  assert.equal((await sh(`stat -c %F ${dir}/from-m2 ${dir}/d2`)).stdout, 'regular empty file\ndirectory\n');
  // rm -r here: names leave, and the directory itself goes.
  await sh(`rm -r ${dir}`);
  assert.equal((await sh(`test -e ${dir} || echo gone; test -e ${join(m2.mnt, 'made-here')} || echo gone`)).stdout, 'gone\ngone\n');
});
