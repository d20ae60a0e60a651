/**
 * bench/fs: the same workloads, in one invocation, on a pfs mount (a real proxyfsd with a
 * local-directory volume and a real pfsagentd), on the raw object-store backend under it (a
 * PUT/GET loop from Node against openObjectStore('file:///dir')), and on a plain directory of
 * the local disk (ext4 here; the type is printed):
 *   sequential write of N MiB in 1 MiB blocks (dd conv=fsync), sequential read (cold),
 *   random 4 KiB reads on a 256 MiB file (cold), 5 000 small files (create+write 4 KiB+close,
 *   stat, unlink), untar of /usr/include (tar -x, then sync).
 * Prints MB/s (10^6 bytes/s) or ops/s, the ratios pfs/ext4 and pfs/raw, the issue's targets,
 * and the agent's peak RSS (VmHWM) against DirtyLogSegmentLimit × MaxFlushSize +
 * ReadCacheLineSize × ReadCacheLineCount + 200 MiB of its conf.
 *
 * With --backend swift or s3 the volume lives in the one-node test Swift (scripts/swift-aio.sh,
 * started if needed) through that API and the shipped auth plug-in, and "raw" is a PUT/GET loop
 * from Node against the same server through the same backend code (retries included); the
 * target there is pfs >= 80% of raw.
 *
 * Usage: make build && node dist/bench/fs/main.js [--size-mib N] [--files N] [--rand-ops N]
 *        [--targets pfs,ext4,raw] [--workloads seq,rand,small,untar] [--dir DIR]
 *        [--backend local|swift|s3]   (see bench/fs/README.md)
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/common/config/index.js';
import { connectObjectStore, openObjectStore, type ObjectStore } from '../../src/common/objectstore/index.js';
import { remoteBackendKeys, testBackend } from '../../test/support/backends.js';
import { agentSchema } from '../../src/agent/config-schema.js';
import { REPO, q, sh, startMount, type MountHandle } from '../../test/support/agent.js';

const FSOPS = join(REPO, 'test/support/fsops.py');
const MiB = 1 << 20;

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'rand-mib': { type: 'string', default: '256' },
    'rand-ops': { type: 'string', default: '20000' },
    files: { type: 'string', default: '5000' },
    targets: { type: 'string', default: 'pfs,ext4,raw' },
    dir: { type: 'string', default: tmpdir() },
    'tar-source': { type: 'string', default: '/usr/include' },
    backend: { type: 'string', default: 'local' },
    workloads: { type: 'string', default: 'seq,rand,small,untar' },
  },
});
process.env.PFS_TEST_BACKEND = args.backend;
const BACKEND = testBackend();
const SIZE_MIB = Number(args['size-mib']);
const RAND_MIB = Number(args['rand-mib']);
const RAND_OPS = Number(args['rand-ops']);
const FILES = Number(args.files);
const TARGETS = new Set(args.targets.split(','));
const WORKLOADS = new Set(args.workloads.split(','));
for (const w of WORKLOADS) if (!['seq', 'rand', 'small', 'untar'].includes(w)) throw new Error(`--workloads: unknown workload ${w} (seq, rand, small, untar)`);

type Target = 'pfs' | 'ext4' | 'raw';
interface Figure { value: number; unit: 'MB/s' | 'ops/s'; note?: string }
const results = new Map<string, Partial<Record<Target, Figure>>>();
const notes: string[] = [];

function record(workload: string, target: Target, f: Figure): void {
  const row = results.get(workload) ?? {};
  row[target] = f;
  results.set(workload, row);
  console.error(`  ${target.padEnd(4)} ${workload}: ${f.value.toFixed(1)} ${f.unit}${f.note ? ` (${f.note})` : ''}`);
}

const mbps = (bytes: number, ms: number): Figure => ({ value: bytes / 1e6 / (ms / 1000), unit: 'MB/s' });
const opsps = (ops: number, ms: number): Figure => ({ value: ops / (ms / 1000), unit: 'ops/s' });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

let dropCachesWorks: boolean | undefined;
async function dropCaches(): Promise<void> {
  const r = await sh('sync; echo 3 > /proc/sys/vm/drop_caches', { allowFail: true });
  if (dropCachesWorks === undefined) {
    dropCachesWorks = r.code === 0;
    notes.push(dropCachesWorks
      ? 'page cache dropped before every read phase (sync; echo 3 > /proc/sys/vm/drop_caches)'
      : `could NOT drop the page cache (${r.stderr.trim()}): ext4 read figures may come from memory`);
  }
}

// ---------------------------------------------------------------------------------------------
// file-system targets (pfs mount, plain directory)

interface FsTarget {
  name: 'pfs' | 'ext4';
  dir: string;
  /** Makes the next reads cold; `after` names the phases run since the last call. */
  cold(after: string): Promise<void>;
}

async function runFs(t: FsTarget, tarball: string, tarBytes: number, tarFiles: number): Promise<void> {
  console.error(`${t.name}: ${t.dir}`);
  const o = { cwd: t.dir, timeoutMs: 3_600_000 };
  const seqBytes = SIZE_MIB * MiB;
  if (WORKLOADS.has('seq')) {
    let ms = await timed(() => sh(`dd if=/dev/zero of=seq bs=1M count=${SIZE_MIB} conv=fsync status=none`, o));
    record(`seq write ${SIZE_MIB} MiB, 1 MiB blocks`, t.name, mbps(seqBytes, ms));
    await t.cold('seq write');
    ms = await timed(() => sh('dd if=seq of=/dev/null bs=1M status=none', o));
    record(`seq read ${SIZE_MIB} MiB, 1 MiB blocks`, t.name, mbps(seqBytes, ms));
    await sh('rm -f seq', o);
  }

  if (WORKLOADS.has('rand')) {
    await sh(`dd if=/dev/urandom of=rand bs=1M count=${RAND_MIB} conv=fsync status=none`, o);
    await t.cold(WORKLOADS.has('seq') ? 'seq read, writing the random-read file' : 'writing the random-read file');
    const rr = JSON.parse((await sh(`python3 ${FSOPS} randread rand ${RAND_OPS} 1`, o)).stdout) as { ops: number; seconds: number };
    record(`rand read 4 KiB, ${RAND_MIB} MiB file`, t.name, opsps(rr.ops, rr.seconds * 1000));
    await sh('rm -f rand', o);
  }

  if (WORKLOADS.has('small')) await smallFiles(t, o);
  if (WORKLOADS.has('untar')) await untar(t, o, tarball, tarBytes, tarFiles);
}

async function smallFiles(t: FsTarget, o: { cwd: string; timeoutMs: number }): Promise<void> {
  const sf = JSON.parse((await sh(`python3 ${FSOPS} smallfiles small ${FILES}`, o)).stdout) as { n: number; create: number; stat: number; unlink: number };
  record(`${FILES} files: create+write 4 KiB+close`, t.name, opsps(sf.n, sf.create * 1000));
  record(`${FILES} files: stat`, t.name, opsps(sf.n, sf.stat * 1000));
  record(`${FILES} files: unlink`, t.name, opsps(sf.n, sf.unlink * 1000));
  await sh('rmdir small', o);
}

async function untar(t: FsTarget, o: { cwd: string; timeoutMs: number }, tarball: string, tarBytes: number, tarFiles: number): Promise<void> {
  await sh('mkdir untar', o);
  const ms = await timed(() => sh(`tar -C untar -xf ${q(tarball)} && sync`, o));
  record(`untar ${args['tar-source']} (tar -x; sync)`, t.name, { ...mbps(tarBytes, ms), note: `${(tarFiles / (ms / 1000)).toFixed(0)} files/s` });
  await sh('rm -rf untar', o);
}

// ---------------------------------------------------------------------------------------------
// the raw backend

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function openRaw(dir: string): Promise<ObjectStore> {
  if (BACKEND === 'local') return openObjectStore(`file://${dir}`, { create: true });
  const { access } = await remoteBackendKeys(BACKEND);
  return (await connectObjectStore(access, { log: quiet, create: true })).store;
}

async function runRaw(dir: string): Promise<void> {
  const store = await openRaw(dir);
  console.error(`raw: ${BACKEND === 'local' ? `file://${dir}` : `${BACKEND} backend of the test Swift`}`);
  try {
    const OBJ = 10 * MiB;
    if (WORKLOADS.has('seq')) await rawSeq(store, OBJ);
    if (WORKLOADS.has('rand')) await rawRand(store, OBJ);
    if (WORKLOADS.has('small')) await rawSmall(store);
  } finally {
    await store.close();
  }
}

/** One PUT at a time, as a single writer streaming one object after another. */
async function rawSeq(store: ObjectStore, OBJ: number): Promise<void> {
  const body = randomBytes(OBJ);
  const seqObjects = Math.ceil((SIZE_MIB * MiB) / OBJ);
  let ms = await timed(async () => {
    for (let i = 0; i < seqObjects; i++) await store.put(`seq-${i}`, body);
  });
  record(`seq write ${SIZE_MIB} MiB, 1 MiB blocks`, 'raw', { ...mbps(seqObjects * OBJ, ms), note: '10 MiB PUTs' });
  await dropCaches();
  ms = await timed(async () => {
    for (let i = 0; i < seqObjects; i++) {
      for (let off = 0; off < OBJ; off += MiB) await store.get(`seq-${i}`, { offset: off, length: MiB });
    }
  });
  record(`seq read ${SIZE_MIB} MiB, 1 MiB blocks`, 'raw', { ...mbps(seqObjects * OBJ, ms), note: '1 MiB ranged GETs' });
  for (let i = 0; i < seqObjects; i++) await store.delete(`seq-${i}`);
}

async function rawRand(store: ObjectStore, OBJ: number): Promise<void> {
  const randObjects = Math.ceil((RAND_MIB * MiB) / OBJ);
  for (let i = 0; i < randObjects; i++) await store.put(`rand-${i}`, randomBytes(OBJ));
  await dropCaches();
  const ms = await timed(async () => {
    for (let i = 0; i < RAND_OPS; i++) {
      await store.get(`rand-${randomInt(randObjects)}`, { offset: randomInt(OBJ / 4096) * 4096, length: 4096 });
    }
  });
  record(`rand read 4 KiB, ${RAND_MIB} MiB file`, 'raw', { ...opsps(RAND_OPS, ms), note: '4 KiB ranged GETs' });
  for (let i = 0; i < randObjects; i++) await store.delete(`rand-${i}`);
}

async function rawSmall(store: ObjectStore): Promise<void> {
  const small = randomBytes(4096);
  let ms = await timed(async () => { for (let i = 0; i < FILES; i++) await store.put(`small-${i}`, small); });
  record(`${FILES} files: create+write 4 KiB+close`, 'raw', { ...opsps(FILES, ms), note: 'PUT' });
  ms = await timed(async () => { for (let i = 0; i < FILES; i++) await store.head(`small-${i}`); });
  record(`${FILES} files: stat`, 'raw', { ...opsps(FILES, ms), note: 'HEAD' });
  ms = await timed(async () => { for (let i = 0; i < FILES; i++) await store.delete(`small-${i}`); });
  record(`${FILES} files: unlink`, 'raw', { ...opsps(FILES, ms), note: 'DELETE' });
}

// ---------------------------------------------------------------------------------------------

async function vmHwmKiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function fmt(f: Figure | undefined): string {
  if (!f) return 'n/a';
  return f.value >= 100 ? f.value.toFixed(0) : f.value.toFixed(1);
}

function ratio(a: Figure | undefined, b: Figure | undefined): string {
  return a && b && b.value > 0 ? `${(a.value / b.value).toFixed(2)}` : 'n/a';
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(args.dir, 'pfs-bench-fs-'));
  const fsType = (await sh(`df --output=fstype,source ${q(work)} | tail -1`)).stdout.trim().split(/\s+/);
  const tarball = join(work, 'source.tar');
  let tarBytes = 0;
  let tarFiles = 0;
  if (WORKLOADS.has('untar')) {
    await sh(`tar -C ${q(join(args['tar-source'], '..'))} -cf ${q(tarball)} ${q(args['tar-source'].split('/').filter(Boolean).at(-1)!)}`, { timeoutMs: 600_000 });
    tarBytes = Number((await sh(`tar -tvf ${q(tarball)} | awk '{s += $3} END {print s}'`)).stdout.trim());
    tarFiles = Number((await sh(`tar -tf ${q(tarball)} | wc -l`)).stdout.trim());
  }

  let m: MountHandle | undefined;
  let peakKiB = 0;
  const peaks: string[] = [];
  let boundMiB = 0;
  let boundText = '';
  try {
    if (TARGETS.has('ext4')) {
      const dir = join(work, 'ext4');
      await sh(`mkdir ${q(dir)}`);
      await runFs({ name: 'ext4', dir, cold: () => dropCaches() }, tarball, tarBytes, tarFiles);
    }
    if (TARGETS.has('raw')) await runRaw(join(work, 'raw'));
    if (TARGETS.has('pfs')) {
      m = await startMount();
      const mount = m;
      const a = loadConfig(agentSchema, m.conf, []).sections['Agent']!;
      const [segs, flush, line, lines] = [a['DirtyLogSegmentLimit'], a['MaxFlushSize'], a['ReadCacheLineSize'], a['ReadCacheLineCount']].map(Number) as [number, number, number, number];
      boundMiB = (segs * flush + line * lines) / MiB + 200;
      boundText = `DirtyLogSegmentLimit ${segs} × MaxFlushSize ${flush / MiB} MiB + ReadCacheLineSize ${line / MiB} MiB × ReadCacheLineCount ${lines} + 200 MiB = ${boundMiB.toFixed(0)} MiB`;
      const cold = async (after: string) => {
        // A new agent: empty read cache and a new FUSE connection (so no page cache either).
        const kib = await vmHwmKiB(mount.agent.pid);
        peaks.push(`${(kib / 1024).toFixed(0)} MiB (${after})`);
        peakKiB = Math.max(peakKiB, kib);
        await mount.stop();
        await dropCaches();
        await mount.restartAgent();
      };
      notes.push('pfs reads: the agent is stopped (SIGTERM) and a new one mounted before every read phase, so its read cache is empty');
      await sh(`mkdir ${q(join(m.mnt, 'bench'))}`);
      await runFs({ name: 'pfs', dir: join(m.mnt, 'bench'), cold }, tarball, tarBytes, tarFiles);
      const kib = await vmHwmKiB(m.agent.pid);
      const last = [...WORKLOADS].filter((w) => w !== 'seq').map((w) => ({ rand: 'rand read', small: 'small files', untar: 'untar' })[w]);
      peaks.push(`${(kib / 1024).toFixed(0)} MiB (${last.length > 0 ? last.join(', ') : 'seq read'})`);
      peakKiB = Math.max(peakKiB, kib);
      await m.stop();
    }
  } finally {
    if (m) await m.cleanup();
    rmSync(work, { recursive: true, force: true });
  }

  const line = '-'.repeat(104);
  const what = [
    WORKLOADS.has('seq') && `${SIZE_MIB} MiB sequential`,
    WORKLOADS.has('rand') && `${RAND_OPS} random 4 KiB reads on ${RAND_MIB} MiB`,
    WORKLOADS.has('small') && `${FILES} small files`,
    WORKLOADS.has('untar') && `untar of ${args['tar-source']} (${(tarBytes / 1e6).toFixed(0)} MB, ${tarFiles} entries)`,
  ].filter(Boolean);
  console.log(`bench/fs: ${what.join(', ')}`);
  console.log(`plain directory: ${args.dir} on ${fsType[0]} (${fsType[1]})${fsType[0] === 'overlay' ? ' -- OVERLAYFS, not a plain ext4 disk: the ext4 column is not a fair baseline' : ''}`);
  console.log(BACKEND === 'local'
    ? 'pfs: proxyfsd with a local-directory volume (file:// object store) on the same disk, pfsagentd with the test defaults'
    : `pfs: proxyfsd with a ${BACKEND}:// volume in the one-node test Swift on 127.0.0.1 (scripts/swift-aio.sh), pfsagentd with the test defaults; raw: the same backend code from Node`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(line);
  console.log(`${'workload'.padEnd(44)}${'unit'.padStart(6)}${'pfs'.padStart(9)}${'ext4'.padStart(9)}${'raw'.padStart(9)}${'pfs/ext4'.padStart(10)}${'pfs/raw'.padStart(9)}  target`);
  console.log(line);
  for (const [workload, row] of results) {
    const unit = (row.pfs ?? row.ext4 ?? row.raw)!.unit;
    let target = '';
    if (BACKEND !== 'local' && workload.startsWith('seq ') && row.pfs && row.raw) {
      target = row.pfs.value >= 0.8 * row.raw.value ? '>= 80% of raw: met' : '>= 80% of raw: MISSED';
    } else if (workload.startsWith('seq ') && row.pfs && row.ext4) {
      target = row.pfs.value >= 0.5 * row.ext4.value ? '>= 50% of ext4: met' : '>= 50% of ext4: MISSED';
    }
    console.log(`${workload.padEnd(44)}${unit.padStart(6)}${fmt(row.pfs).padStart(9)}${fmt(row.ext4).padStart(9)}${fmt(row.raw).padStart(9)}${ratio(row.pfs, row.ext4).padStart(10)}${ratio(row.pfs, row.raw).padStart(9)}  ${target}`);
  }
  console.log(line);
  const untar = [...results.entries()].find(([w]) => w.startsWith('untar'))?.[1];
  if (untar) console.log(`untar files/s: pfs ${untar.pfs?.note ?? 'n/a'}, ext4 ${untar.ext4?.note ?? 'n/a'} (raw: n/a, no tar on an object store)`);
  if (TARGETS.has('pfs')) {
    const peakMiB = peakKiB / 1024;
    console.log(`agent peak RSS (VmHWM, max over the agent instances): ${peakMiB.toFixed(0)} MiB; bound ${boundText}: ${peakMiB <= boundMiB ? 'within' : 'EXCEEDED'}`);
    console.log(`  per agent instance: ${peaks.join('; ')}`);
    if (SIZE_MIB < 10240) console.log('  (the issue states the RSS bound for a 10 GiB write: --size-mib 10240)');
  }
}

await main();
