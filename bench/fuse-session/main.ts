// bench/fuse-session: the path-based binding against the inode-based session prototype and
// ext4, same machine, same run (docs/FUSE-BINDING.md part 8). Prints figures, asserts nothing.
// Targets: path (fuse-native + context addon, attr/entry timeouts 0, the agent's options today),
// pathlong (the same with 60 s timeouts and kernel_cache, not safe for the agent today: issue 21),
// ll0 (low-level prototype, timeouts 0), lllong (low-level, 60 s timeouts, keep_cache), raw0,
// rawlong, rawplus (the same handlers behind a pure-JS /dev/fuse reader: timeouts 0, 60 s, 60 s
// with READDIRPLUS), ext4 (a directory of the OS temp dir). The FUSE targets serve the same synthetic tree from memory
// (server.ts, one process per mount), so the figures are the FUSE session's cost, not the agent's.
// Phases (each target, each repetition; the median of --reps is printed): stat of 10 000 files
// cold (fresh mount; ext4: after dropping dentries and inodes) and warm; ls -l of a 20 000-entry
// directory cold and warm; create + write 4 KiB + close of 5 000 files by 1 and by 8 python3
// processes (one directory); sequential read of a 64 MiB file (1 MiB read calls, cold). Agent
// CPU per op is process.cpuUsage() of the serving process around the phase, divided by the ops.
// Root only. Run: make build && node dist/bench/fuse-session/main.js [--reps 3] [--targets path,ll0,lllong,raw0,rawlong,rawplus,ext4]

import { execFile, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../src/common/native/package-root.js';
import { forceUnmount } from '../../src/agent/fuse/binding/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = here.split('/').includes('dist');
const OPS = join(packageRoot()!, 'bench', 'fuse-session', 'ops.py');

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const reps = Number(arg('reps', '3'));
const targets = arg('targets', 'path,ll0,lllong,ext4').split(',');

type Phase = 'stat cold' | 'stat warm' | 'ls -l cold' | 'ls -l warm' | 'create 1w' | 'create 8w' | 'read 64 MiB';
const PHASES: Phase[] = ['stat cold', 'stat warm', 'ls -l cold', 'ls -l warm', 'create 1w', 'create 8w', 'read 64 MiB'];
const OPS_PER: Record<Phase, number> = {
  'stat cold': 10000, 'stat warm': 10000, 'ls -l cold': 20000, 'ls -l warm': 20000, 'create 1w': 5000, 'create 8w': 5000, 'read 64 MiB': 64,
};
interface Result { seconds: number; cpuUs?: number; sysUs?: number; requests?: number; wakeups?: number; messages?: number }
const results = new Map<string, Result[]>();

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(cmd, args, { maxBuffer: 1 << 24 }, (err, out, errOut) => (err ? fail(new Error(`${cmd} ${args.join(' ')}: ${errOut || err.message}`)) : ok(out))));
}
const py = (...a: string[]) => sh('python3', [OPS, ...a]);

interface Usage { cpuUs: number; sysUs: number; requests: number; wakeups: number; messages: number }

class Server {
  private waiters: Array<(m: Usage) => void> = [];
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: Partial<Usage>) => {
      if (m.cpuUs !== undefined) this.waiters.shift()!(m as Usage);
    });
  }
  static start(target: string, mnt: string): Promise<Server> {
    const child = fork(join(here, `server.${compiled ? 'js' : 'ts'}`), [target, mnt], { stdio: 'inherit', execArgv: compiled ? [] : ['--import', 'tsx'] });
    return new Promise((ok, fail) => {
      child.once('message', () => ok(new Server(child)));
      child.once('exit', (code) => fail(new Error(`server ${target} exited ${code}`)));
    });
  }
  usage(): Promise<Usage> {
    return new Promise((ok) => {
      this.waiters.push(ok);
      this.child.send({ cmd: 'cpu' });
    });
  }
  stop(): Promise<void> {
    return new Promise((ok) => {
      this.child.once('exit', () => ok());
      this.child.send({ cmd: 'unmount' });
    });
  }
}

async function timed(fn: () => Promise<number>, server?: Server): Promise<Result> {
  const before = await server?.usage();
  const seconds = await fn();
  const after = await server?.usage();
  if (!before || !after) return { seconds };
  const d = (k: keyof Usage) => after[k] - before[k];
  return { seconds, cpuUs: d('cpuUs'), sysUs: d('sysUs'), requests: d('requests'), wakeups: d('wakeups'), messages: d('messages') };
}

/** writers python3 processes start together and create total/writers files each in dir; wall time first start to last end. */
async function creates(dir: string, writers: number, total: number): Promise<number> {
  const start = Date.now() / 1000 + 0.4;
  const outs = await Promise.all(Array.from({ length: writers }, (_, k) => py('create', dir, `p${k}-`, String(total / writers), String(start))));
  const spans = outs.map((o) => o.trim().split(' ').map(Number) as [number, number]);
  return Math.max(...spans.map((s) => s[1])) - Math.min(...spans.map((s) => s[0]));
}

async function lsl(dir: string): Promise<number> {
  const t = process.hrtime.bigint();
  await sh('sh', ['-c', `ls -l --color=never '${dir}' > /dev/null`]);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function ext4Tree(root: string): void {
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(root, 'stat', `d${d}`), { recursive: true });
    for (let i = 0; i < 1000; i++) writeFileSync(join(root, 'stat', `d${d}`, `f${i}`), Buffer.alloc(100));
  }
  mkdirSync(join(root, 'big'));
  for (let i = 0; i < 20000; i++) writeFileSync(join(root, 'big', `e${String(i).padStart(5, '0')}`), Buffer.alloc(100));
  writeFileSync(join(root, 'data64'), Buffer.alloc(64 << 20, 7));
}

async function runTarget(target: string, rep: number, ext4Root: string): Promise<void> {
  const ext4 = target === 'ext4';
  const mnt = ext4 ? ext4Root : mkdtempSync(join(tmpdir(), `pfs-bench-${target}-`));
  const server = ext4 ? undefined : await Server.start(target, mnt);
  const record = (p: Phase, r: Result) => results.set(`${target}|${p}`, [...(results.get(`${target}|${p}`) ?? []), r]);
  // FUSE targets: a fresh tree per mount has w/c1 and w/c8; ext4 gets new directories per repetition.
  const w1 = join(mnt, 'w', ext4 ? `r${rep}-c1` : 'c1');
  const w8 = join(mnt, 'w', ext4 ? `r${rep}-c8` : 'c8');
  if (ext4) {
    mkdirSync(w1, { recursive: true });
    mkdirSync(w8, { recursive: true });
    // Cold ext4: drop dentries and inodes (machine-wide, reclaimable objects only).
    await sh('sh', ['-c', 'sync; echo 2 > /proc/sys/vm/drop_caches']);
  }
  try {
    record('stat cold', await timed(async () => Number(await py('stat', join(mnt, 'stat'))), server));
    record('stat warm', await timed(async () => Number(await py('stat', join(mnt, 'stat'))), server));
    record('ls -l cold', await timed(() => lsl(join(mnt, 'big')), server));
    record('ls -l warm', await timed(() => lsl(join(mnt, 'big')), server));
    record('create 1w', await timed(() => creates(w1, 1, 5000), server));
    record('create 8w', await timed(() => creates(w8, 8, 5000), server));
    record('read 64 MiB', await timed(async () => Number((await py('read', join(mnt, 'data64'), '1')).split(' ')[0]), server));
  } finally {
    if (server) {
      await server.stop();
      await forceUnmount(mnt).catch(() => undefined);
      rmSync(mnt, { recursive: true, force: true });
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function cell(target: string, p: Phase): string {
  const rs = results.get(`${target}|${p}`) ?? [];
  if (!rs.length) return '-';
  const rates = rs.map((r) => OPS_PER[p] / r.seconds);
  let s = `${Math.round(median(rates))}${p === 'read 64 MiB' ? ' MiB/s' : '/s'} (${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))})`;
  if (rs[0]!.cpuUs !== undefined) {
    s += `, ${median(rs.map((r) => r.cpuUs! / OPS_PER[p])).toFixed(p === 'read 64 MiB' ? 0 : 1)} µs CPU`;
    s += ` (${Math.round(100 * median(rs.map((r) => r.sysUs! / r.cpuUs!)))} % sys)`;
    s += `, ${median(rs.map((r) => r.requests! / OPS_PER[p])).toFixed(1)} req`;
    if (rs[0]!.wakeups) s += `, ${median(rs.map((r) => r.messages! / r.wakeups!)).toFixed(2)} req/wakeup`;
  }
  return s;
}

async function main(): Promise<void> {
  const ext4Root = mkdtempSync(join(tmpdir(), 'pfs-bench-ext4-'));
  try {
    if (targets.includes('ext4')) ext4Tree(ext4Root);
    for (let rep = 0; rep < reps; rep++) {
      for (const t of targets) {
        process.stderr.write(`rep ${rep + 1}/${reps} ${t}\n`);
        await runTarget(t, rep, ext4Root);
      }
    }
  } finally {
    rmSync(ext4Root, { recursive: true, force: true });
  }
  const load = (await sh('cat', ['/proc/loadavg'])).trim();
  console.log(`bench/fuse-session: median of ${reps} (range); per op: serving process CPU (µs; MiB for reads; share in the kernel), FUSE requests reaching JS, requests per wakeup of the JS thread (ll); loadavg ${load}`);
  console.log(`| phase | ${targets.join(' | ')} |`);
  console.log(`|${' --- |'.repeat(targets.length + 1)}`);
  for (const p of PHASES) console.log(`| ${p} | ${targets.map((t) => cell(t, p)).join(' | ')} |`);
}

await main();
