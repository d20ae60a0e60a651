/**
 * Test support: the one-node OpenStack Swift of scripts/swift-aio.sh (tempauth and s3api on one
 * proxy port), started on demand and shared by every test process (the script is idempotent and
 * takes a lock, so parallel test files may all call useSwift()).
 *
 * Set PFS_TEST_SWIFT=0 to skip the tests that need it: they pass `{ skip: swiftSkip() }`, so the
 * skip shows in the report. With PFS_TEST_SWIFT unset, a Swift that does not start FAILS the
 * tests that need it.
 *
 * tempauthCredentials() is a test-only CredentialSource; the real one runs an auth plug-in
 * (src/common/auth).
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PfsError } from '../../src/common/errors/index.js';
import type { CredentialSource, Credentials, SwiftCredentials } from '../../src/common/auth/types.js';

const run = promisify(execFile);
// Computed here, not imported from proxyfsd.ts: that module imports this one (via backends.ts).
const SCRIPT = join(resolve(import.meta.dirname, '../../..'), 'scripts', 'swift-aio.sh');

export interface SwiftAio {
  authUrl: string;
  user: string;
  key: string;
  account: string;
  storageUrl: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
  region: string;
  tokenLifeSeconds: number;
}

/** A reason to skip when PFS_TEST_SWIFT=0, else false: `it('...', { skip: swiftSkip() }, ...)`. */
export function swiftSkip(): string | false {
  return process.env.PFS_TEST_SWIFT === '0' ? 'PFS_TEST_SWIFT=0: tests against the real Swift are switched off' : false;
}

let starting: Promise<SwiftAio> | undefined;

/**
 * Starts the AIO unless it runs already (about 2 s cold, a few ms warm) and returns where it
 * is. Concurrent callers in one process share one run of the script.
 */
export function useSwift(): Promise<SwiftAio> {
  const skip = swiftSkip();
  if (skip) return Promise.reject(new Error(`useSwift(): ${skip}`));
  starting ??= startAio().finally(() => {
    starting = undefined;
  });
  return starting;
}

async function startAio(): Promise<SwiftAio> {
  try {
    await run('bash', [SCRIPT, 'start'], { timeout: 180_000, maxBuffer: 1 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/swift-aio.sh start failed (PFS_TEST_SWIFT=0 skips the Swift tests):\n${e.stderr || e.message}`, { cause: err });
  }
  const { stdout } = await run('bash', [SCRIPT, 'env']);
  const env: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined) throw new Error(`scripts/swift-aio.sh env printed no ${name}`);
    return v;
  };
  return {
    authUrl: need('PFS_SWIFT_AUTH_URL'),
    user: need('PFS_SWIFT_USER'),
    key: need('PFS_SWIFT_KEY'),
    account: need('PFS_SWIFT_ACCOUNT'),
    storageUrl: need('PFS_SWIFT_STORAGE_URL'),
    s3Endpoint: need('PFS_S3_ENDPOINT'),
    s3AccessKey: need('PFS_S3_ACCESS_KEY'),
    s3SecretKey: need('PFS_S3_SECRET_KEY'),
    region: need('PFS_S3_REGION'),
    tokenLifeSeconds: Number(need('PFS_SWIFT_TOKEN_LIFE')),
  };
}

/** One tempauth v1.0 login: X-Auth-User/X-Auth-Key in, X-Auth-Token and X-Storage-Url out. */
export async function tempauthLogin(aio: Pick<SwiftAio, 'authUrl' | 'user' | 'key'>, signal?: AbortSignal): Promise<SwiftCredentials> {
  const deadline = AbortSignal.timeout(30_000);
  const res = await fetch(aio.authUrl, { headers: { 'X-Auth-User': aio.user, 'X-Auth-Key': aio.key }, signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
  await res.arrayBuffer();
  const authToken = res.headers.get('x-auth-token');
  const storageUrl = res.headers.get('x-storage-url');
  if (res.status !== 200 || !authToken || !storageUrl) {
    throw new PfsError('PFS_ERR_PLUGIN', `tempauth login as ${aio.user} at ${aio.authUrl} answered ${res.status}`);
  }
  return { kind: 'swift', authToken, storageUrl };
}

/**
 * A test-only CredentialSource over tempauth. renew(stale) logs in again once, shared by every
 * caller holding `stale`; stats.renewals counts those logins (not the calls that shared one).
 */
export function tempauthCredentials(aio: Pick<SwiftAio, 'authUrl' | 'user' | 'key'>): CredentialSource {
  let current: SwiftCredentials | undefined;
  let pending: Promise<SwiftCredentials> | undefined;
  let closed = false;
  const stats = { renewals: 0, pluginStarts: 0, pluginFailures: 0 };

  // Shared by every waiting caller, so no one caller's signal may cancel it.
  function login(): Promise<SwiftCredentials> {
    pending ??= tempauthLogin(aio)
      .then((creds) => (current = creds))
      .catch((err: unknown) => {
        stats.pluginFailures++;
        throw err;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  function checkOpen(): void {
    if (closed) throw new PfsError('PFS_ERR_CONFIG', 'tempauth credentials used after close()');
  }

  return {
    stats,
    async get() {
      checkOpen();
      return current ?? login();
    },
    async renew(stale: Credentials) {
      checkOpen();
      if (current && (stale.kind !== 'swift' || current.authToken !== stale.authToken)) return current;
      if (!pending) stats.renewals++;
      return login();
    },
    async close() {
      closed = true;
    },
  };
}

export interface SwiftResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/**
 * A raw Swift API call as test:tester, for what the ObjectStore does not do (container quotas,
 * container deletes). `path` is relative to the storage URL ('/container?format=json') or a
 * full URL. Logs in for each call.
 */
export async function swiftRequest(aio: SwiftAio, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<SwiftResponse> {
  return rawRequest(await tempauthLogin(aio), method, path, headers, body);
}

async function rawRequest(creds: SwiftCredentials, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<SwiftResponse> {
  const url = /^https?:/.test(path) ? path : `${creds.storageUrl}${path}`;
  const res = await fetch(url, { method, headers: { ...headers, 'X-Auth-Token': creds.authToken }, body });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Deletes every object of `container`, then the container; a missing container is fine. */
export async function deleteContainer(aio: SwiftAio, container: string): Promise<void> {
  const c = `/${encodeURIComponent(container)}`;
  for (let attempt = 0; ; attempt++) {
    const creds = await tempauthLogin(aio); // each round: tokens here live a few seconds only
    const listing = await rawRequest(creds, 'GET', `${c}?format=json&limit=10000`);
    if (listing.status === 404) return;
    const names = listing.status === 200 ? (JSON.parse(listing.body.toString()) as { name: string }[]).map((o) => o.name) : [];
    await Promise.all(names.map((n) => rawRequest(creds, 'DELETE', `${c}/${encodeURIComponent(n)}`)));
    const del = await rawRequest(creds, 'DELETE', c);
    if (del.status === 204 || del.status === 404) return;
    // 409: not empty yet (listing updates can lag); 401: the token expired meanwhile.
    if (attempt >= 20) throw new Error(`deleting container ${container} answered ${del.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A second proxy-server of the running AIO on its own port (same rings, storage servers and
 * memcached), for tests that stop "the proxy": stopping this one leaves every other test's
 * traffic alone. stop() kills it (connections refused from then on); start() brings it back.
 */
export interface ExtraProxy {
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startExtraProxy(): Promise<ExtraProxy> {
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:net');
  const { tmpdir } = await import('node:os');
  await useSwift();
  const base = process.env.PFS_SWIFT_BASE ?? '/tmp/pfs-swift';
  const port = await new Promise<number>((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => res(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'pfs-extra-proxy-'));
  const conf = join(dir, 'proxy-server.conf');
  writeFileSync(conf, readFileSync(join(base, 'etc', 'proxy-server.conf'), 'utf8').replace(/^bind_port = \d+$/m, `bind_port = ${port}`));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PYTHON|VIRTUAL_ENV|PYENV_VERSION|CONDA_PREFIX)/.test(k)));
  let proc: import('node:child_process').ChildProcess | undefined;
  const healthy = async (): Promise<boolean> => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  };
  const handle: ExtraProxy = {
    port,
    async start() {
      // detached: a session of its own (Swift's parent kills its whole process group on SIGTERM),
      // whose group id is the proxy's pid, so stop() can kill the group.
      proc = spawn('/usr/bin/swift-proxy-server', [conf, '-v'], { env, stdio: 'ignore', detached: true });
      const until = Date.now() + 30_000;
      while (!(await healthy())) {
        if (Date.now() > until) throw new Error(`the extra Swift proxy on port ${port} did not become healthy in 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* already gone */ }
      await gone;
    },
  };
  process.once('exit', () => { if (proc?.pid) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  await handle.start();
  return handle;
}
