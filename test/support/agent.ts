/**
 * Test support: a real pfsagentd (bin/pfsagentd from the build) mounting a volume of a real
 * proxyfsd (test/support/proxyfsd.ts) on a fresh directory under os.tmpdir(), and sh() to run
 * real programs against it as child processes.
 *
 * The test process never does synchronous I/O on the mount: every program runs through sh()
 * (bash -c in its own process group, killed as a group on timeout).
 *
 * Every handle is registered until cleanup(); if the test process exits without cleaning up
 * (a crash, a runner timeout), an exit hook SIGKILLs the agents and lazily unmounts, so
 * `grep fuse /proc/mounts` stays clean.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startProxyfsd, type ProxyfsdHandle } from './proxyfsd.js';

export { REPO, BIN } from './proxyfsd.js';

// ---------------------------------------------------------------------------------------------
// sh(): real programs as child processes

export interface ShOptions {
  cwd?: string;
  /** Wall-clock limit; the whole process group is SIGKILLed after it. Default 120 000 ms. */
  timeoutMs?: number;
  /** Extra environment variables (added to process.env). */
  env?: Record<string, string>;
  /** Written to the program's stdin (then closed). Default: stdin is /dev/null. */
  input?: string | Buffer;
  /** Resolve with the result even when the exit code is not 0 (default: reject). */
  allowFail?: boolean;
}

export interface ShResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

const MAX_CAPTURE = 8 << 20;

/** Runs `bash -c cmd`. Rejects on a non-zero exit (unless allowFail) or timeout, with stderr in the message. */
export function sh(cmd: string, opts: ShOptions = {}): Promise<ShResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', cmd], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout kills the whole pipeline
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (d: Buffer) => { if (outLen < MAX_CAPTURE) { out.push(d); outLen += d.length; } });
    child.stderr!.on('data', (d: Buffer) => { if (errLen < MAX_CAPTURE) { err.push(d); errLen += d.length; } });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE when the program does not read all of it
      child.stdin!.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const r: ShResult = {
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code, signal, ms: Date.now() - started,
      };
      if (timedOut) {
        reject(new Error(`timed out after ${timeoutMs} ms: ${cmd}\nstdout: ${tail(r.stdout)}\nstderr: ${tail(r.stderr)}`));
      } else if (code !== 0 && !opts.allowFail) {
        reject(new Error(`exit ${code ?? signal}: ${cmd}\nstdout: ${tail(r.stdout)}\nstderr: ${tail(r.stderr)}`));
      } else {
        resolve(r);
      }
    });
  });
}

function tail(s: string, n = 4000): string {
  return s.length <= n ? s : `...${s.slice(-n)}`;
}

/** Single-quotes a string for bash. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// mount table

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The /proc/mounts line whose mount point is `path`, if any (read asynchronously). */
export async function mountLine(path: string): Promise<string | undefined> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text.split('\n').find((l) => unescapeMountPath(l.split(' ')[1] ?? '') === path);
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountLine(path)) !== undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUnmounted(path: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!(await isMounted(path))) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

/** fusermount -u, then fusermount -uz, then umount -l; resolves true when nothing is mounted at path. */
export async function forceUnmount(path: string): Promise<boolean> {
  for (const cmd of [`fusermount -u ${q(path)}`, `fusermount -u -z ${q(path)}`, `umount -l ${q(path)}`]) {
    if (!(await isMounted(path))) return true;
    await sh(cmd, { allowFail: true, timeoutMs: 15_000 }).catch(() => undefined);
    if (await waitUnmounted(path, 1000)) return true;
  }
  return !(await isMounted(path));
}

// ---------------------------------------------------------------------------------------------
// the agent process

export interface AgentProcess {
  proc: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

const KEEP_LOG = 4 << 20;

/** Starts bin/pfsagentd CONF [Agent.Key=Value ...] (no waiting). For lifecycle tests. */
export function spawnAgent(conf: string, overrides: string[] = []): AgentProcess {
  const proc = spawn(join(BIN, 'pfsagentd'), [conf, ...overrides], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-KEEP_LOG); });
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-KEEP_LOG); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.once('exit', (code, signal) => res({ code, signal }));
    proc.once('error', () => res({ code: null, signal: null }));
  });
  return { proc, exited, stdout: () => out, stderr: () => err };
}

/** Writes an [Agent] INI file. */
export function writeAgentConf(path: string, keys: Record<string, string>): void {
  const lines = ['[Agent]', ...Object.entries(keys).map(([k, v]) => `${k}: ${v}`), ''];
  // Private: it may hold the plug-in's secret, which the daemons refuse from a file others can read.
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function isRunning(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

// ---------------------------------------------------------------------------------------------
// startMount

export interface MountHandle {
  /** Temp directory holding conf and mount point (and nothing on the volume). */
  readonly dir: string;
  readonly mnt: string;
  readonly conf: string;
  readonly proxyfsd: ProxyfsdHandle;
  /** The current agent process (bin/pfsagentd execs node, so this pid is the agent's). */
  readonly agent: ChildProcess;
  /** stderr of every agent instance of this handle, oldest first (last 4 MiB). */
  stderr(): string;
  stdout(): string;
  /** SIGTERM (or `signal`); asserts exit code 0 within timeoutMs and that the mount is gone. */
  stop(opts?: { timeoutMs?: number; signal?: NodeJS.Signals }): Promise<void>;
  /** SIGKILL, then fusermount -u -z; resolves when nothing is mounted. */
  crash(): Promise<void>;
  /** Starts a new agent on the same conf and waits until it is mounted. */
  restartAgent(): Promise<void>;
  /** Always safe: kills what runs, unmounts (lazy as fallback), removes temp dirs. */
  cleanup(): Promise<void>;
}

export interface StartMountOptions {
  /** [Agent] keys added to (or replacing) the test defaults. */
  agentConf?: Record<string, string>;
  /** A proxyfsd to use (the caller cleans it up); default: a new one, cleaned up with the mount. */
  proxyfsd?: ProxyfsdHandle;
  /** How long to wait for the mount. Default 30 000 ms. */
  mountTimeoutMs?: number;
}

const live = new Set<{ mnt: string; agent: () => ChildProcess }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const h of live) {
      const a = h.agent();
      if (isRunning(a)) try { a.kill('SIGKILL'); } catch { /* gone */ }
      spawnSync('fusermount', ['-u', '-z', h.mnt], { stdio: 'ignore' });
      spawnSync('umount', ['-l', h.mnt], { stdio: 'ignore' });
    }
  });
}

export function agentDefaults(p: ProxyfsdHandle, mnt: string): Record<string, string> {
  return {
    FUSEVolumeName: p.volume,
    FUSEMountPointPath: mnt,
    RetryRPCPublicIPAddr: '127.0.0.1',
    RetryRPCPort: String(p.port),
    HTTPServerTCPPort: '0',
    HTTPServerIPAddr: '127.0.0.1',
    LogToConsole: 'true',
    XAttrEnabled: 'true',
    FUSEAllowOther: 'true',
    // PFS_TEST_FUSE_SESSION=lowlevel|highlevel runs a test on that session (scripts/run-tests.mjs).
    ...(process.env.PFS_TEST_FUSE_SESSION ? { FUSESession: process.env.PFS_TEST_FUSE_SESSION } : {}),
    ...p.agentKeys,
  };
}

export async function startMount(opts: StartMountOptions = {}): Promise<MountHandle> {
  installExitHook();
  const ownProxyfsd = opts.proxyfsd === undefined;
  const proxyfsd = opts.proxyfsd ?? await startProxyfsd();
  const dir = mkdtempSync(join(tmpdir(), 'pfs-agent-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const conf = join(dir, 'pfsagentd.conf');
  writeAgentConf(conf, { ...agentDefaults(proxyfsd, mnt), ...opts.agentConf });
  const mountTimeoutMs = opts.mountTimeoutMs ?? 30_000;

  let current: AgentProcess | undefined;
  let errLog = '';
  let outLog = '';
  const reg = { mnt, agent: () => current!.proc };

  const launch = async (): Promise<void> => {
    if (current && isRunning(current.proc)) throw new Error('startMount: the agent is still running');
    if (await isMounted(mnt)) throw new Error(`startMount: ${mnt} is still mounted`);
    const a = spawnAgent(conf);
    current = a;
    live.add(reg);
    a.proc.stdout!.on('data', (d: Buffer) => { outLog = (outLog + d.toString()).slice(-KEEP_LOG); });
    a.proc.stderr!.on('data', (d: Buffer) => { errLog = (errLog + d.toString()).slice(-KEEP_LOG); });
    const until = Date.now() + mountTimeoutMs;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void a.exited.then((e) => { exited = e; });
    for (;;) {
      if (exited) {
        await forceUnmount(mnt);
        throw new Error(`pfsagentd exited (code ${exited.code}, signal ${exited.signal}) before mounting ${mnt}\nstdout: ${tail(a.stdout())}\nstderr: ${tail(a.stderr())}`);
      }
      if (a.stdout().includes('pfsagentd: mounted') && await isMounted(mnt)) return;
      if (Date.now() > until) {
        const said = a.stdout().includes('pfsagentd: mounted');
        if (isRunning(a.proc)) a.proc.kill('SIGKILL');
        await a.exited;
        await forceUnmount(mnt);
        throw new Error(`pfsagentd did not mount ${mnt} within ${mountTimeoutMs} ms ` +
          `(printed "pfsagentd: mounted": ${said}; in /proc/mounts: false)\nstdout: ${tail(a.stdout())}\nstderr: ${tail(a.stderr())}`);
      }
      await sleep(50);
    }
  };

  try {
    await launch();
  } catch (err) {
    live.delete(reg);
    if (ownProxyfsd) await proxyfsd.cleanup();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const handle: MountHandle = {
    dir, mnt, conf, proxyfsd,
    get agent() { return current!.proc; },
    stderr: () => errLog,
    stdout: () => outLog,

    async stop({ timeoutMs = 90_000, signal = 'SIGTERM' } = {}) {
      const a = current!;
      if (!isRunning(a.proc)) throw new Error(`stop: the agent already exited (code ${a.proc.exitCode}, signal ${a.proc.signalCode})\nstderr: ${tail(a.stderr())}`);
      a.proc.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), timeoutMs); });
      const r = await Promise.race([a.exited, timeout]);
      clearTimeout(timer);
      if (r === 'timeout') {
        a.proc.kill('SIGKILL');
        await a.exited;
        await forceUnmount(mnt);
        throw new Error(`pfsagentd did not exit within ${timeoutMs} ms of ${signal}\nstderr: ${tail(a.stderr())}`);
      }
      const stillMounted = await isMounted(mnt);
      if (stillMounted) await forceUnmount(mnt);
      if (r.code !== 0) throw new Error(`pfsagentd exited with code ${r.code} (signal ${r.signal}) after ${signal}, expected 0\nstderr: ${tail(a.stderr())}`);
      if (stillMounted) throw new Error(`pfsagentd exited 0 after ${signal} but ${mnt} was still mounted\nstderr: ${tail(a.stderr())}`);
    },

    async crash() {
      const a = current!;
      if (isRunning(a.proc)) a.proc.kill('SIGKILL');
      await a.exited;
      if (!(await forceUnmount(mnt))) throw new Error(`crash: could not unmount ${mnt}`);
    },

    restartAgent: launch,

    async cleanup() {
      // The agent's errors go to the test's stderr, so a failure in CI shows its cause.
      const errors = errLog.split('\n').filter((l) => /"level":(50|60)/.test(l));
      if (errors.length > 0) console.error(`pfsagentd (${mnt}) logged ${errors.length} error(s); the last ones:\n${errors.slice(-10).join('\n')}`);
      const a = current;
      if (a && isRunning(a.proc)) {
        a.proc.kill('SIGKILL');
        await a.exited;
      }
      const unmounted = await forceUnmount(mnt);
      if (unmounted) live.delete(reg);
      if (ownProxyfsd) await proxyfsd.cleanup();
      // Never rm -r through a mount that is still there.
      if (!unmounted) throw new Error(`cleanup: ${mnt} is still mounted (left ${dir} in place)`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** A fresh temp directory on the local disk (outside any mount), removed by the returned function. */
/** A fresh HTTP admin token in an owner-only file (HTTPServerAdminTokenFile) under dir. */
export function adminTokenFile(dir: string): { path: string; token: string; headers: Record<string, string> } {
  const token = randomBytes(24).toString('base64url');
  const path = join(dir, 'http-admin-token');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { path, token, headers: { authorization: `Bearer ${token}` } };
}

export function localTempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
