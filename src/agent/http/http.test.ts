import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../common/config/index.js';
import { versionInfo } from '../../common/http/index.js';
import { createLogger } from '../../common/log/index.js';
import { createAgentMetrics } from '../../common/metrics/index.js';
import { parseExposition, sampleValue } from '../../common/metrics/test-support.js';
import { agentSchema } from '../config-schema.js';
import { buildHttpServer, startHttpServer, type AgentHttpOptions, type HealthChecks, type LeaseView } from './index.js';

const MARKER = 'pfs-secret-marker-7f3a9c';
const dir = mkdtempSync(path.join(tmpdir(), 'pfs-agent-http-'));
const confFile = path.join(dir, 'agent.conf');
writeFileSync(confFile, `[Agent]\nFUSEVolumeName: V1\nPlugInEnvValue: {"AuthKey":"${MARKER}"}\nHTTPServerIPAddr: 127.0.0.1\n`);
const config = loadConfig(agentSchema, confFile, []);
const logFile = path.join(dir, 'agent.log');
const logHandle = createLogger({ name: 'pfsagentd[V1]', filePath: logFile, toConsole: false, trace: true });
const metrics = createAgentMetrics();
after(async () => {
  metrics.close();
  await logHandle.close();
  rmSync(dir, { recursive: true, force: true });
});

const ready: HealthChecks = { mounted: async () => true, ping: async () => undefined };

function options(over: Partial<AgentHttpOptions> = {}): AgentHttpOptions {
  return {
    host: '127.0.0.1', port: 0, volume: 'V1', log: logHandle.logger, metrics, config, schema: agentSchema,
    version: versionInfo('pfsagentd'), health: ready, ...over,
  };
}

const bodies: string[] = [];

test('index, version, config (redacted, pretty or ?compact)', async () => {
  const app = buildHttpServer(options());
  const index = await app.inject('/');
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /^text\/html/);
  for (const p of ['/config', '/health', '/leases', '/metrics', '/stats', '/version']) assert.ok(index.body.includes(`href="${p}"`), p);
  assert.equal((await app.inject('/index.html')).body, index.body);

  const version = (await app.inject('/version')).json() as { program: string; version: string; node: string; commit?: string };
  assert.equal(version.program, 'pfsagentd');
  assert.match(version.version, /^\d+\.\d+\.\d+/);
  assert.equal(version.node, process.version);
  if (version.commit !== undefined) assert.match(version.commit, /^[0-9a-f]{40}$/);

  const pretty = await app.inject('/config');
  assert.equal(pretty.statusCode, 200);
  assert.match(String(pretty.headers['content-type']), /^application\/json/);
  assert.match(pretty.body, /\n\t"sections"/);
  const cfg = pretty.json() as { file: string; sections: { Agent: Record<string, unknown> } };
  assert.equal(cfg.file, confFile);
  assert.equal(cfg.sections.Agent.PlugInEnvValue, '[REDACTED]');
  assert.equal(cfg.sections.Agent.FUSEVolumeName, 'V1');
  assert.equal(cfg.sections.Agent.HTTPServerTCPPort, 9090);
  for (const q of ['?compact', '?compact=1', '?compact=true']) {
    const compact = await app.inject(`/config${q}`);
    assert.equal(compact.body.trimEnd().includes('\n'), false, q);
    assert.deepEqual(compact.json(), cfg);
  }
  assert.match((await app.inject('/config?compact=0')).body, /\n\t/);
  bodies.push(index.body, pretty.body);
  await app.close();
});

test('health: ready; 503 with the reason when not mounted, when Ping fails or hangs past 1 s', async () => {
  const check = async (health: HealthChecks) => {
    const app = buildHttpServer(options({ health }));
    const started = Date.now();
    const r = await app.inject('/health');
    await app.close();
    return { status: r.statusCode, body: r.json() as { status: string; reason?: string }, ms: Date.now() - started };
  };
  assert.deepEqual((await check(ready)).body, { status: 'ready' });
  const notMounted = await check({ ...ready, mounted: async () => false });
  assert.deepEqual([notMounted.status, notMounted.body], [503, { status: 'unavailable', reason: 'not mounted' }]);
  const failing = await check({ ...ready, ping: async () => { throw new Error('PFS_ERR_RPC_DEADLINE: no reply'); } });
  assert.equal(failing.status, 503);
  assert.match(failing.body.reason!, /did not answer a Ping: PFS_ERR_RPC_DEADLINE/);
  const hanging = await check({ ...ready, ping: () => new Promise(() => {}) });
  assert.equal(hanging.status, 503);
  assert.match(hanging.body.reason!, /within 1000 ms/);
  assert.ok(hanging.ms >= 950 && hanging.ms < 3000, `answered after ${hanging.ms} ms`);
  const app = buildHttpServer(options());
  assert.equal((await app.inject({ method: 'HEAD', url: '/health' })).statusCode, 200);
  await app.close();
});

test('leases: off until a lease manager is given (GET says so, POSTs answer 501); a LeaseView plugs in', async () => {
  const off = buildHttpServer(options());
  assert.deepEqual((await off.inject('/leases')).json(), { enabled: false, reason: 'this server was built without a lease manager', shared: [], exclusive: [] });
  for (const action of ['demote', 'release']) {
    const r = await off.inject({ method: 'POST', url: `/leases/${action}` });
    assert.equal(r.statusCode, 501);
    assert.deepEqual(r.json(), { statusCode: 501, error: 'Not Implemented', message: `this server was built without a lease manager: nothing to ${action}` });
  }
  await off.close();
  const calls: string[] = [];
  const leases: LeaseView = {
    snapshot: () => ({ shared: ['0000000000000002'], exclusive: ['0000000000000003'] }),
    demoteAll: async () => { calls.push('demote'); return 1; },
    releaseAll: async () => { calls.push('release'); return 2; },
  };
  const token = 'k3y-0f-the-admin-for-tests';
  const on = buildHttpServer(options({ leases, adminToken: token }));
  assert.deepEqual((await on.inject('/leases')).json(), { enabled: true, shared: ['0000000000000002'], exclusive: ['0000000000000003'] });
  const auth = { authorization: `Bearer ${token}` };
  assert.deepEqual((await on.inject({ method: 'POST', url: '/leases/demote', headers: auth })).json(), { demoted: 1 });
  assert.deepEqual((await on.inject({ method: 'POST', url: '/leases/release', headers: auth })).json(), { released: 2 });
  assert.deepEqual(calls, ['demote', 'release']);
  await on.close();
});

test('lease POSTs change state only with the admin token: refused without one configured (403), 401 without or with a wrong one', async () => {
  const calls: string[] = [];
  const leases: LeaseView = {
    snapshot: () => ({ shared: [], exclusive: ['0000000000000003'] }),
    demoteAll: async () => { calls.push('demote'); return 1; },
    releaseAll: async () => { calls.push('release'); return 1; },
  };
  const none = buildHttpServer(options({ leases }));
  for (const headers of [{}, { authorization: 'Bearer anything-at-all-here' }]) {
    const r = await none.inject({ method: 'POST', url: '/leases/release', headers });
    assert.equal(r.statusCode, 403);
    assert.match(r.json().message, /no admin token is configured \(\[Agent\] HTTPServerAdminTokenFile\)/);
  }
  await none.close();
  const token = 'the-right-token-0123456789';
  const on = buildHttpServer(options({ leases, adminToken: token }));
  for (const authorization of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, token]) {
    const r = await on.inject({ method: 'POST', url: '/leases/demote', headers: authorization === undefined ? {} : { authorization } });
    assert.equal(r.statusCode, 401, String(authorization));
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="pfsagentd"');
    assert.ok(!r.body.includes(token), 'the token is never echoed');
  }
  assert.deepEqual(calls, [], 'nothing changed');
  assert.equal((await on.inject({ method: 'POST', url: '/leases/demote', headers: { authorization: `bearer ${token}` } })).statusCode, 200);
  assert.deepEqual(calls, ['demote']);
  const config = (await on.inject('/config')).body;
  assert.ok(!config.includes(token));
  await on.close();
});

test('metrics (strict exposition format) and stats (JSON) show the same counters', async () => {
  metrics.fuse.onOp('lookup-test', 0.001);
  metrics.fuse.onRead(1234);
  const app = buildHttpServer(options());
  const m = await app.inject('/metrics');
  assert.equal(m.statusCode, 200);
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const fams = parseExposition(m.body);
  assert.equal(sampleValue(fams, 'pfsagent_fuse_ops_total', { op: 'lookup-test' }), 1);
  assert.equal(sampleValue(fams, 'pfsagent_fuse_read_bytes_total'), 1234);
  const s = await app.inject('/stats/');
  assert.equal(s.statusCode, 200);
  const stats = s.json() as { fuse: { ops: Record<string, { count: number }>; readBytes: number } };
  assert.equal(stats.fuse.ops['lookup-test']!.count, 1);
  assert.equal(stats.fuse.readBytes, 1234);
  assert.equal((await app.inject('/stats?compact')).body.trimEnd().includes('\n'), false);
  bodies.push(m.body, s.body);
  await app.close();
});

test('a wrong method is 405 with Allow; an unknown path 404; both JSON', async () => {
  const app = buildHttpServer(options());
  for (const [method, url, allow] of [
    ['POST', '/metrics', 'GET, HEAD'], ['PUT', '/config', 'GET, HEAD'], ['DELETE', '/leases', 'GET, HEAD'],
    ['GET', '/leases/demote', 'POST'], ['POST', '/health/', 'GET, HEAD'],
  ] as const) {
    const r = await app.inject({ method, url });
    assert.equal(r.statusCode, 405, `${method} ${url}`);
    assert.equal(r.headers.allow, allow, `${method} ${url}`);
    assert.equal((r.json() as { error: string }).error, 'Method Not Allowed');
  }
  for (const url of ['/nope', '/metrics/x', '/debug/pprof']) {
    const r = await app.inject(url);
    assert.equal(r.statusCode, 404, url);
    assert.deepEqual(r.json(), { statusCode: 404, error: 'Not Found', message: `no such path: ${url}` });
  }
  await app.close();
});

test('secrets appear in no answer and no log line', async () => {
  const app = buildHttpServer(options());
  for (const url of ['/', '/config', '/config?compact', '/stats', '/metrics', '/leases', '/version', '/health']) {
    bodies.push((await app.inject(url)).body);
  }
  await app.close();
  logHandle.logger.info({ config: config.sections.Agent }, 'a careless line logging the whole section');
  await new Promise((r) => setTimeout(r, 50));
  for (const body of bodies) assert.equal(body.includes(MARKER), false);
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /"msg":"http"/, 'requests were logged (trace level)');
  assert.equal(log.includes(MARKER), false);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(2000, () => { sock.destroy(); resolve(false); });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

test('a real port: bound only where configured; port 0 starts nothing; a busy port is a clear error', async () => {
  assert.equal(await startHttpServer(options({ port: 0 })), undefined);
  const port = await freePort();
  const server = await startHttpServer(options({ port }));
  assert.ok(server);
  try {
    assert.deepEqual(server.address, { host: '127.0.0.1', port });
    const base = `http://127.0.0.1:${port}`;
    assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ready' });
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.status, 200);
    parseExposition(await m.text());
    const wrong = await fetch(`${base}/leases/release`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal((await fetch(`${base}/leases/release`, { method: 'POST' })).status, 501); // no lease manager here
    assert.equal((await fetch(`${base}/missing`)).status, 404);
    // Other local addresses: the rest of 127/8, and this host's non-loopback IPv4 addresses.
    const others = ['127.0.0.2', ...Object.values(networkInterfaces()).flat()
      .filter((i) => i !== undefined && i.family === 'IPv4' && !i.internal).map((i) => i!.address)];
    for (const host of others) assert.equal(await connects(host, port), false, `reachable via ${host}`);
    await assert.rejects(startHttpServer(options({ port })), /HTTP server cannot listen on 127\.0\.0\.1:\d+ \(\[Agent\] HTTPServerIPAddr, HTTPServerTCPPort\): .*EADDRINUSE/);
  } finally {
    await server.close();
  }
  assert.equal(await connects('127.0.0.1', port), false, 'closed');
});
