/**
 * Issue 17, across machines: mutual TLS with agent certificates from the volume's CA (`pfs ca`),
 * attacked as docs/SECURITY.md §2 says. A real proxyfsd with [RPCServer] ClientCAFilePath on
 * 127.0.0.1, serving TestVolume and OtherVolume. A raw client run as uid 65534 (which its uid
 * alone does not let in) is served with a valid agent certificate and refused with none, with
 * one of another CA, an expired one, a server certificate; a certificate for OtherVolume cannot
 * Mount TestVolume. A legitimate client keeps working throughout, and a real pfsagentd mounts
 * over mutual TLS.
 *
 * Reproduce: make build && node --test dist/test/security/rpc-mtls.test.js
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRpcClient, type RpcClient } from '../../src/common/rpc/index.js';
import { ROOT_INO, O_RDWR, type Cred, type Method, type Params, type Result } from '../../src/common/protocol/index.js';
import { issueAgentCert } from '../../src/cli/ca.js';
import { rawRpc, type RawResult } from '../support/raw-rpc.js';
import { quietLog, startProxyfsd, type ProxyfsdHandle } from '../support/proxyfsd.js';
import { q, sh, spawnAgent, startMount, writeAgentConf, agentDefaults } from '../support/agent.js';
import { filesFor, makeMtlsFiles, type MtlsFiles } from '../support/certs.js';

const NOBODY = 65534;
const VOLUME = 'TestVolume';
const root: Cred = { uid: 0, gid: 0, groups: [] };

let dir: string;
let files: MtlsFiles;
let srv: ProxyfsdHandle;
const cleanups: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pfs-mtls-'));
  files = await makeMtlsFiles(dir, VOLUME);
  srv = await startProxyfsd({
    volume: VOLUME,
    moreVolumes: ['OtherVolume'],
    extraConf: `[RPCServer]\nCertFilePath: ${files.server.cert}\nKeyFilePath: ${files.server.key}\nClientCAFilePath: ${files.ca}\n`,
  });
});

after(async () => {
  await srv?.stop();
  await srv?.cleanup();
  for (const d of [dir, ...cleanups]) rmSync(d, { recursive: true, force: true });
});

/** A Node RPC client over TLS, verifying the server against the volume CA; with pair, presenting it. */
function tlsClient(pair?: { cert: string; key: string }): RpcClient {
  return createRpcClient({
    host: '127.0.0.1', port: srv.port, deadlineMs: 20000, keepAliveMs: 5000, reconnectDelayMs: 50, reconnectDelayCapMs: 200, maxFrameBytes: 16 << 20, log: quietLog,
    tls: { caPem: readFileSync(files.ca), ...(pair && { certPem: readFileSync(pair.cert), keyPem: readFileSync(pair.key) }) },
  });
}

function call<M extends Method>(c: RpcClient, m: M, p: Params<M>): Promise<Result<M>> {
  return c.call(m, p) as Promise<Result<M>>;
}

/** The raw client as nobody over TLS, with the named pair of `nobodys` (or none). */
async function asNobody(nobodys: ReturnType<typeof filesFor>, pair: keyof MtlsFiles | undefined, clientId: string, calls: { method: string; params: unknown }[]): Promise<RawResult> {
  const p = pair === undefined ? undefined : (nobodys.pairs as Record<string, { cert: string; key: string }>)[pair];
  return rawRpc(srv.port, { uid: NOBODY, clientId, calls, tls: { ca: nobodys.ca, ...(p && { cert: p.cert, key: p.key }) } });
}

/** Copies for nobody, in a directory of their own beside dir (which nobody cannot enter). */
function nobodysFiles(name: string) {
  const { agent, otherCa, expired, otherVolume, server } = files;
  const own = `${dir}-${name}`;
  cleanups.push(own);
  return filesFor(own, NOBODY, files.ca, { agent, otherCa, expired, otherVolume, server });
}

test('uid 65534 with a valid agent certificate is served as that agent and mounts its volume; without one it is refused', { timeout: 60_000 }, async () => {
  const nobodys = nobodysFiles('nobody-1');
  const bare = await asNobody(nobodys, undefined, 'nobody-bare', [{ method: 'Mount', params: { volume: VOLUME } }]);
  assert.equal(bare.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(bare));
  assert.match(bare.refused!.message, /uid 65534 is not allowed/);
  const r = await asNobody(nobodys, 'agent', 'nobody-with-cert', [{ method: 'Mount', params: { volume: VOLUME } }, { method: 'Ping', params: {} }]);
  assert.equal(r.refused, undefined, JSON.stringify(r));
  const mount = r.replies[0] as { result: { mountId: string } };
  assert.match(mount.result?.mountId ?? '', /^[A-Za-z0-9_-]{16,}$/, JSON.stringify(r));
  assert.ok('result' in r.replies[1]!);
  assert.match(srv.stderr(), /"peer":"cert:agent-a".*"certName":"agent-a","certFingerprint":"[0-9a-f]{16}","volumes":\["TestVolume"\].*rpc client connected/);
});

test('another CA, an expired certificate, a server certificate: refused; a certificate for OtherVolume cannot use TestVolume; a legitimate client goes on', { timeout: 90_000 }, async () => {
  const nobodys = nobodysFiles('nobody-2');
  const legit = tlsClient(); // root, no certificate: identified by its uid as before
  try {
    const { mountId } = await call(legit, 'Mount', { volume: VOLUME });
    const f = await call(legit, 'Create', { mountId, cred: root, parent: ROOT_INO, name: 'kept', mode: 0o600, umask: 0, flags: O_RDWR });
    let legitCalls = 0;
    let legitError: unknown;
    let attacking = true;
    const legitLoop = (async () => {
      while (attacking) {
        try {
          await call(legit, 'GetAttr', { mountId, cred: root, ino: f.ino });
          legitCalls++;
        } catch (err) {
          legitError = err;
          return;
        }
      }
    })();
    const mountTest = [{ method: 'Mount', params: { volume: VOLUME } }];
    const [otherCa, expired, serverCert, otherVolume, takeover] = await Promise.all([
      asNobody(nobodys, 'otherCa', 'x-other-ca', mountTest),
      asNobody(nobodys, 'expired', 'x-expired', mountTest),
      asNobody(nobodys, 'server', 'x-server-cert', mountTest),
      asNobody(nobodys, 'otherVolume', 'x-other-volume', [...mountTest, { method: 'Mount', params: { volume: 'OtherVolume' } }]),
      asNobody(nobodys, 'agent', legit.clientId, [{ method: 'Unmount', params: { mountId } }]),
    ]);
    attacking = false;
    await legitLoop;

    for (const [r, why] of [[otherCa, /client certificate was not accepted \(.*(issuer|verify)/i], [expired, /client certificate was not accepted \(.*expired/i], [serverCert, /client certificate was not accepted \(.*purpose/i]] as const) {
      assert.equal(r.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(r));
      assert.match(r.refused!.message, why);
      assert.deepEqual(r.replies, []);
    }
    assert.equal(otherVolume.refused, undefined, JSON.stringify(otherVolume));
    const denied = otherVolume.replies[0] as { error: { code: string; message: string } };
    assert.equal(denied.error?.code, 'PFS_ERR_VOLUME_NOT_AUTHORIZED', JSON.stringify(otherVolume));
    assert.match(denied.error.message, /certificate of agent agent-b does not authorise volume "TestVolume" \(it names "OtherVolume"\)/);
    assert.ok('result' in otherVolume.replies[1]!, `its own volume mounts: ${JSON.stringify(otherVolume)}`);
    assert.equal(takeover.refused?.code, 'PFS_ERR_RPC_REFUSED', JSON.stringify(takeover));
    assert.match(takeover.refused!.message, /belongs to another peer/);

    assert.equal(legitError, undefined);
    assert.ok(legitCalls > 0, 'the legitimate client called throughout');
    assert.equal((await call(legit, 'GetAttr', { mountId, cred: root, ino: f.ino })).mode & 0o777, 0o600);
    assert.match(srv.stderr(), /rpc connection refused: the peer could not be identified: its client certificate was not accepted/);
    assert.ok(!srv.stderr().includes('PRIVATE KEY'));
  } finally {
    await legit.close(0);
  }
});

test('a real pfsagentd mounts over mutual TLS as its certificate\'s agent, writes and reads a file', { timeout: 120_000 }, async () => {
  const fuse = await issueAgentCert(join(dir, 'ca'), { name: 'fuse-agent', volumes: [VOLUME], out: join(dir, 'fuse-agent') });
  const m = await startMount({
    proxyfsd: srv,
    agentConf: { FUSEVolumeName: VOLUME, RetryRPCCACertFilePath: files.ca, RetryRPCCertFilePath: fuse.certPath, RetryRPCKeyFilePath: fuse.keyPath },
  });
  try {
    const w = await sh(`head -c 300000 /dev/urandom > ${q(join(m.mnt, 'f'))} && sync && cp ${q(join(m.mnt, 'f'))} ${q(join(m.dir, 'copy'))} && cmp ${q(join(m.mnt, 'f'))} ${q(join(m.dir, 'copy'))} && stat -c %s ${q(join(m.mnt, 'f'))}`);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), '300000');
    assert.match(srv.stderr(), /"peer":"cert:fuse-agent"[^\n]*rpc client connected/, 'the agent (root) was identified by its certificate');
  } finally {
    await m.cleanup();
  }
});

test('the agent refuses a client key that its group can read, naming the file, and says nothing of the key', { timeout: 60_000 }, async () => {
  const work = join(dir, 'loose-key');
  mkdirSync(join(work, 'mnt'), { recursive: true });
  const fuse = await issueAgentCert(join(dir, 'ca'), { name: 'loose', volumes: [VOLUME], out: join(work, 'agent') });
  chmodSync(fuse.keyPath, 0o640);
  const conf = join(work, 'agent.conf');
  writeAgentConf(conf, { ...agentDefaults(srv, join(work, 'mnt')), RetryRPCCACertFilePath: files.ca, RetryRPCCertFilePath: fuse.certPath, RetryRPCKeyFilePath: fuse.keyPath });
  const a = spawnAgent(conf);
  const { code } = await a.exited;
  assert.notEqual(code, 0);
  assert.ok(a.stderr().includes(`[Agent] RetryRPCKeyFilePath: the private key ${fuse.keyPath} is open to its group (mode 0640)`), a.stderr());
  assert.ok(!a.stderr().includes('PRIVATE KEY'));
});
