/**
 * Test support: a real proxyfsd process (bin/proxyfsd from the build) on a loopback port, with
 * a formatted volume: metadata in a temp directory, objects in the temp directory too, or in a
 * fresh container or bucket of the test Swift (test/support/backends.ts picks by
 * PFS_TEST_BACKEND). Always stop() it (kill -9 is crash()).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { keysToIni, remoteBackendKeys, testBackend, type Backend, type BackendKeys } from './backends.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const BIN = join(REPO, 'bin');
const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface ProxyfsdHandle {
  dir: string;
  conf: string;
  port: number;
  volume: string;
  backend: Backend;
  objectStoreUrl: string;
  /** The plug-in and request keys an agent of this volume needs in [Agent] ({} for local). */
  agentKeys: Record<string, string>;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  crash(): Promise<void>;
  /** Starts the process again on the same port and data. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export function writeVolumeConf(dir: string, port: number, volume = 'TestVolume', extra = '', store?: { objectStoreUrl: string; keys: Record<string, string> }, mountGracePeriod = '30s', volumeKeys = ''): string {
  const conf = join(dir, 'proxyfsd.conf');
  writeFileSync(conf, `[Volume:${volume}]
MetadataPath: ${join(dir, 'meta.db')}
ObjectStoreURL: ${store?.objectStoreUrl ?? `file://${join(dir, 'objects')}`}
${store ? keysToIni(store.keys) : ''}
DeadObjectDeleteDelay: 0s
MountGracePeriod: ${mountGracePeriod}
${volumeKeys}

[RPCServer]
IPAddr: 127.0.0.1
TCPPort: ${port}
KeepAlivePeriod: 5s

[Logging]
LogToConsole: true
${extra}`, { mode: 0o600 });
  return conf;
}

/**
 * mountGracePeriod: 30 s by default, so a loaded machine that stalls an agent's connection for a
 * few seconds does not drop its mount; tests of the drop itself pass a short one.
 */
/**
 * volumeKeys: more `Key: value` lines for the [Volume:NAME] section; extraConf: more sections;
 * moreVolumes: more volumes served (local objects in the temp directory), formatted too;
 * localStoreUrl: a file:// store elsewhere than the temp directory (agents must name it too).
 */
export async function startProxyfsd(opts: { extraConf?: string; volume?: string; backend?: Backend; store?: BackendKeys; mountGracePeriod?: string; volumeKeys?: string; moreVolumes?: string[]; localStoreUrl?: string } = {}): Promise<ProxyfsdHandle> {
  const backend = opts.backend ?? testBackend();
  const store = opts.store ?? (backend === 'local' ? undefined : await remoteBackendKeys(backend));
  const dir = mkdtempSync(join(tmpdir(), 'pfs-proxyfsd-'));
  const port = await freePort();
  const volume = opts.volume ?? 'TestVolume';
  const more = (opts.moreVolumes ?? []).map((v) => `\n[Volume:${v}]\nMetadataPath: ${join(dir, `${v}.db`)}\nObjectStoreURL: file://${join(dir, `objects-${v}`)}\n`).join('');
  const local = opts.localStoreUrl === undefined ? undefined : { objectStoreUrl: opts.localStoreUrl, keys: {} };
  const conf = writeVolumeConf(dir, port, volume, `${opts.extraConf ?? ''}${more}`, store ?? local, opts.mountGracePeriod, opts.volumeKeys);
  for (const v of [volume, ...opts.moreVolumes ?? []]) await run(join(BIN, 'pfs'), ['format', conf, v]);
  let errText = '';
  let proc!: ChildProcess;
  const launch = async () => {
    proc = spawn(join(BIN, 'proxyfsd'), [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr!.on('data', (d) => { errText = (errText + d.toString()).slice(-20000); });
    await new Promise<void>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`proxyfsd did not start: ${errText}`)), 15000);
      proc.stdout!.on('data', (d) => {
        out += d.toString();
        if (out.includes('proxyfsd: serving')) { clearTimeout(timer); res(); }
      });
      proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`proxyfsd exited ${code}: ${errText}`)); });
    });
  };
  const waitExit = () => new Promise<number | null>((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) res(proc.exitCode);
    else proc.once('exit', (code) => res(code));
  });
  await launch();
  const handle: ProxyfsdHandle = {
    dir, conf, port, volume, backend,
    objectStoreUrl: store?.objectStoreUrl ?? opts.localStoreUrl ?? `file://${join(dir, 'objects')}`,
    agentKeys: store?.keys ?? {},
    get proc() { return proc; },
    stderr: () => errText,
    async stop() { proc.kill('SIGTERM'); return waitExit(); },
    async crash() { proc.kill('SIGKILL'); await waitExit(); },
    restart: launch,
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await waitExit(); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

export const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
