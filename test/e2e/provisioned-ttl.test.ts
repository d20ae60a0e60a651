/**
 * Issue 20: an agent that lives longer than the volume's ProvisionedObjectTTL. proxyfsd expires
 * every provisioned object number no Wrote reported within the TTL (the GC deleter, every
 * GCInterval); the agent must never write a segment into a number that has expired meanwhile.
 * With real programs on real mounts:
 * (a) a burst of writes, the agent idle past the TTL, then many small files and a few files
 *     larger than one log segment (MaxFlushSize), each written, fsynced and closed: no call
 *     fails, and a second agent reads every file back byte-exact;
 * (b) the same with proxyfsd killed with -9 and restarted while the agent is idle;
 * (c) a mount that lives 20 TTL periods under an on-off workload (small and 3 MiB files, some
 *     fsynced, random idle gaps up to 2 TTL): nothing is lost, through the same and a new mount.
 * Files are written and checked by a python3 child process; content is generated from a seed,
 * so the writer and the checker agree without shipping data through the test process.
 *
 * On failure the proxyfsd data directory and the logs' tails are printed; PFS_TEST_KEEP_DATA=1
 * leaves the directory in place. PFS_TEST_SEED=N replays (c)'s idle gaps.
 * Reproduce: make build && node --test dist/test/e2e/provisioned-ttl.test.js
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { q, sh, startMount, type MountHandle } from '../support/agent.js';
import { startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { prng } from '../support/prng.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KiB = 1024;
const MiB = 1024 * KiB;
/** Set explicitly: the large files must span more than one log segment. */
const MAX_FLUSH_SIZE = 10 * MiB;
const AGENT = { MaxFlushSize: String(MAX_FLUSH_SIZE) };

interface FileSpec {
  /** Relative to the mount point. */
  name: string;
  size: number;
  /** Content is random.Random(seed).randbytes(size). */
  seed: string;
  fsync: boolean;
}

interface WriteError { name: string; step: string; errno: string }
interface BadFile { name: string; size: number; got: number | null; errno?: string; firstDiff?: number; zeros?: boolean }

// The writer and the checker. `write ROOT SPECS`: for each file open(O_CREAT|O_TRUNC), write in
// 1 MiB calls, fsync if asked, close; every OSError is reported with its step and the file is
// still closed. `verify ROOT SPECS`: read each file and compare it with the content it should
// have. Both print one JSON line and exit 1 when anything was wrong.
const PY = String.raw`
import errno, hashlib, json, os, random, sys

def content(seed, size):
    return random.Random(seed).randbytes(size)

def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))

mode, root, specs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if mode == 'write':
    errors = []
    for f in specs:
        path = os.path.join(root, f['name'])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = content(f['seed'], f['size'])
        fd = None
        step = 'open'
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            step = 'write'
            off = 0
            while off < len(data):
                off += os.write(fd, data[off:off + (1 << 20)])
            if f['fsync']:
                step = 'fsync'
                os.fsync(fd)
        except OSError as e:
            errors.append({'name': f['name'], 'step': step, 'errno': errname(e)})
        if fd is not None:
            try:
                os.close(fd)
            except OSError as e:
                errors.append({'name': f['name'], 'step': 'close', 'errno': errname(e)})
    print(json.dumps({'errors': errors}))
    sys.exit(1 if errors else 0)
elif mode == 'verify':
    bad = []
    for f in specs:
        want = content(f['seed'], f['size'])
        try:
            with open(os.path.join(root, f['name']), 'rb') as fh:
                got = fh.read()
        except OSError as e:
            bad.append({'name': f['name'], 'size': f['size'], 'got': None, 'errno': errname(e)})
            continue
        if hashlib.sha256(got).digest() != hashlib.sha256(want).digest():
            diff = next((i for i in range(0, min(len(got), len(want)), 4096) if got[i:i + 4096] != want[i:i + 4096]), min(len(got), len(want)))
            bad.append({'name': f['name'], 'size': f['size'], 'got': len(got), 'firstDiff': diff, 'zeros': len(got) > 0 and got.count(0) == len(got)})
    print(json.dumps({'checked': len(specs), 'bad': bad}))
    sys.exit(1 if bad else 0)
else:
    sys.exit('unknown mode ' + mode)
`;

async function writeFiles(mnt: string, files: FileSpec[]): Promise<WriteError[]> {
  const r = await sh(`python3 -c ${q(PY)} write ${q(mnt)} ${q(JSON.stringify(files))}`, { allowFail: true, timeoutMs: 180_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`the writer failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { errors: WriteError[] }).errors;
}

async function verifyFiles(mnt: string, files: FileSpec[]): Promise<BadFile[]> {
  const r = await sh(`python3 -c ${q(PY)} verify ${q(mnt)} ${q(JSON.stringify(files))}`, { allowFail: true, timeoutMs: 180_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`the checker failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { bad: BadFile[] }).bad;
}

/** "30 of 42 files: close EIO x30; first: small/f003 close EIO". */
function describeErrors(errors: WriteError[], total: number): string {
  const kinds = new Map<string, number>();
  for (const e of errors) kinds.set(`${e.step} ${e.errno}`, (kinds.get(`${e.step} ${e.errno}`) ?? 0) + 1);
  const files = new Set(errors.map((e) => e.name)).size;
  return `${files} of ${total} files got errors: ${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')}; ` +
    `first ones: ${JSON.stringify(errors.slice(0, 5))}`;
}

function describeBad(bad: BadFile[], total: number, where: string): string {
  const empty = bad.filter((b) => b.got === 0).length;
  const zeros = bad.filter((b) => b.zeros).length;
  const unreadable = bad.filter((b) => b.got === null).length;
  return `${bad.length} of ${total} files wrong ${where} (${empty} empty, ${zeros} all zeros, ${unreadable} unreadable, ` +
    `${bad.length - empty - zeros - unreadable} other); first ones: ${JSON.stringify(bad.slice(0, 5))}`;
}

function smallFiles(dir: string, n: number, size: number, fsync: boolean): FileSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${dir}/f${String(i).padStart(3, '0')}`, size, seed: `${dir}:${i}`, fsync }));
}

/** What proxyfsd's GC logged (in the stderr tail kept): objects it expired, never reported by a Wrote within the TTL. */
function expiredCount(srv: ProxyfsdHandle): number {
  let n = 0;
  for (const line of srv.stderr().split('\n')) {
    if (!line.includes('gc: deleted objects')) continue;
    try { n += (JSON.parse(line) as { expired?: number }).expired ?? 0; } catch { /* a partial line */ }
  }
  return n;
}

/** Added after the volume section test/support writes: a repeated section adds to the first. */
const volumeKeys = (volume: string, ttl: string, gcInterval: string) =>
  `\n[Volume:${volume}]\nProvisionedObjectTTL: ${ttl}\nGCInterval: ${gcInterval}\n`;

interface Volume {
  srv: ProxyfsdHandle;
  /** A new agent mounting the volume, cleaned up with it. */
  mount(): Promise<MountHandle>;
}

/**
 * A proxyfsd with the given TTL and GC interval; the mounts made through it are always
 * cleaned up. On failure prints where the data is and what proxyfsd and the agents logged.
 */
async function withVolume(t: TestContext, ttl: string, gcInterval: string, body: (v: Volume) => Promise<void>): Promise<void> {
  const volume = 'TestVolume';
  const srv = await startProxyfsd({ volume, extraConf: volumeKeys(volume, ttl, gcInterval) });
  const mounts: MountHandle[] = [];
  let failed = false;
  try {
    await body({
      srv,
      async mount() {
        const m = await startMount({ proxyfsd: srv, agentConf: AGENT });
        mounts.push(m);
        return m;
      },
    });
  } catch (err) {
    failed = true;
    const keep = process.env.PFS_TEST_KEEP_DATA === '1';
    console.error(`${t.name}: FAILED. proxyfsd data dir: ${srv.dir} (conf ${srv.conf}; ` +
      `${keep ? 'kept' : 'removed at the end; PFS_TEST_KEEP_DATA=1 keeps it'}); objects expired by GC: ${expiredCount(srv)}\n` +
      `proxyfsd stderr (tail):\n${srv.stderr().slice(-6000)}`);
    for (const m of mounts) console.error(`pfsagentd ${m.mnt} stderr (tail):\n${m.stderr().slice(-6000)}`);
    throw err;
  } finally {
    for (const m of mounts) await m.cleanup().catch((e) => console.error(e));
    if (failed && process.env.PFS_TEST_KEEP_DATA === '1') await srv.crash();
    else await srv.cleanup();
  }
}

/** Waits until the agent logged `times` completed claims after proxyfsd restarts (it reconnected). */
async function reconnected(m: MountHandle, times: number, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (m.stderr().split('leases and locks claimed').length - 1 < times) {
    if (Date.now() > until) assert.fail(`the agent did not reconnect to the restarted proxyfsd within ${ms} ms\n${m.stderr().slice(-4000)}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// (a) and (b)

const TTL_MS = 3000;
const GC_MS = 250;
/** Past the TTL, and past the GC round after it, with room for a slow GC round. */
const IDLE_MS = 2.5 * TTL_MS + 2 * GC_MS;

async function idleThenWrite(t: TestContext, restartProxyfsd: boolean): Promise<void> {
  await withVolume(t, `${TTL_MS}ms`, `${GC_MS}ms`, async ({ srv, mount }) => {
    const a = await mount();
    const burst = smallFiles('burst', 10, 4 * KiB, false);
    const burstErrors = await writeFiles(a.mnt, burst);
    assert.equal(burstErrors.length, 0, `the first burst (before any TTL passed): ${describeErrors(burstErrors, burst.length)}`);

    const idleStart = Date.now();
    if (restartProxyfsd) {
      await sleep(TTL_MS / 3);
      await srv.crash();
      await sleep(300);
      await srv.restart();
      await reconnected(a, 1);
    }
    await sleep(Math.max(0, IDLE_MS - (Date.now() - idleStart)));
    t.diagnostic(`idle ${Date.now() - idleStart} ms (TTL ${TTL_MS} ms); objects expired by GC meanwhile: ${expiredCount(srv)}`);

    const later = [
      ...smallFiles('small', 40, 5 * KiB, true),
      ...Array.from({ length: 2 }, (_, i) => ({ name: `large/l${i}`, size: 24 * MiB, seed: `large:${i}`, fsync: true })),
    ];
    assert.ok(later.at(-1)!.size > MAX_FLUSH_SIZE);
    const errors = await writeFiles(a.mnt, later);

    const b = await mount();
    const all = [...burst, ...later];
    const badB = await verifyFiles(b.mnt, all);
    assert.equal(errors.length, 0, `writes after the agent was idle past ProvisionedObjectTTL: ${describeErrors(errors, later.length)}; ` +
      `then ${describeBad(badB, all.length, 'through a second agent')}`);
    assert.equal(badB.length, 0, describeBad(badB, all.length, 'through a second agent'));
    const badA = await verifyFiles(a.mnt, all);
    assert.equal(badA.length, 0, describeBad(badA, all.length, 'through the writing agent'));
    await b.stop();
    await a.stop();
  });
}

test('writes after the agent outlives ProvisionedObjectTTL are kept', { timeout: 180_000 }, async (t) => {
  await idleThenWrite(t, false);
});

test('writes after the agent outlives ProvisionedObjectTTL are kept, with proxyfsd killed with -9 and restarted while it is idle', { timeout: 180_000 }, async (t) => {
  await idleThenWrite(t, true);
});

// ---------------------------------------------------------------------------------------------
// (c)

test('a mount living 20 TTL periods under an on-off write workload loses nothing', { timeout: 180_000 }, async (t) => {
  const ttlMs = 1000;
  const periods = 20;
  const seed = Number(process.env.PFS_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`PFS_TEST_SEED=${seed}`);
  const random = prng(seed);
  await withVolume(t, `${ttlMs}ms`, '100ms', async ({ srv, mount }) => {
    const a = await mount();
    const written: FileSpec[] = [];
    const errors: WriteError[] = [];
    const started = Date.now();
    let round = 0;
    while (Date.now() - started < periods * ttlMs) {
      // A few files: small and 3 MiB in turn, fsynced in some rounds only.
      const fsync = round % 3 !== 2;
      const files = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, i): FileSpec => ({
        name: `r${String(round).padStart(3, '0')}/f${i}`,
        size: (round + i) % 2 === 0 ? 3 * KiB + Math.floor(random() * 4 * KiB) : 3 * MiB + Math.floor(random() * 64 * KiB),
        seed: `${seed}:${round}:${i}`,
        fsync,
      }));
      errors.push(...await writeFiles(a.mnt, files));
      written.push(...files);
      round++;
      await sleep(Math.floor(random() * 2 * ttlMs));
    }
    t.diagnostic(`${round} rounds, ${written.length} files in ${Date.now() - started} ms; objects expired by GC: ${expiredCount(srv)}`);
    const b = await mount();
    const badB = await verifyFiles(b.mnt, written);
    assert.equal(errors.length, 0, `on-off writes over ${periods} TTL periods: ${describeErrors(errors, written.length)}; ` +
      `then ${describeBad(badB, written.length, 'through a second agent')}`);
    assert.equal(badB.length, 0, describeBad(badB, written.length, 'through a second agent'));
    const badA = await verifyFiles(a.mnt, written);
    assert.equal(badA.length, 0, describeBad(badA, written.length, 'through the writing agent'));
    await b.stop();
    await a.stop();
  });
});
