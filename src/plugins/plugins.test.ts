/**
 * The shipped plug-ins and the shell example, run through their launchers and startAuthPlugin.
 * The Swift plug-in talks to small node:http fakes of tempauth and Keystone v3: these test its
 * HTTP logic, not a real Swift.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startAuthPlugin, type AuthPluginOptions, type CredentialSource } from '../common/auth/index.js';
import { captureLog, tempDir } from '../common/auth/test-support.js';

const root = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const SWIFT = path.join(root, 'plugins/pfsagentd-swift-auth-plugin/pfsagentd-swift-auth-plugin');
const S3 = path.join(root, 'plugins/pfsagentd-s3-auth-plugin/pfsagentd-s3-auth-plugin');
const SHELL = path.join(root, 'examples/minimal-plugin/plugin.sh');

const tmp = tempDir('pfs-plugins-');
const sources: CredentialSource[] = [];
after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  tmp.remove();
});

function start(pluginPath: string, envValue: string, over: Partial<AuthPluginOptions> = {}) {
  const log = captureLog();
  const source = startAuthPlugin({ path: pluginPath, envName: 'PFS_TEST_AUTH', envValue, log: log.logger, restartDelayMs: 10, answerTimeoutMs: 10_000, ...over });
  sources.push(source);
  return { source, log };
}

/** Runs a plug-in with stdin held open until it exits by itself. */
function runAlone(pluginPath: string, envValue: string | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  if (envValue === undefined) delete env.PFS_TEST_AUTH;
  else env.PFS_TEST_AUTH = envValue;
  const child = spawn(pluginPath, ['PFS_TEST_AUTH'], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr }); }));
}

interface Fake { url: string; requests: http.IncomingMessage[]; bodies: string[]; failNext: number; close(): Promise<void> }

async function fakeServer(handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse, base: string) => void): Promise<Fake> {
  const fake = { requests: [] as http.IncomingMessage[], bodies: [] as string[], failNext: 0 } as Fake;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      fake.requests.push(req);
      fake.bodies.push(body);
      if (fake.failNext > 0) {
        fake.failNext--;
        res.writeHead(503).end();
        return;
      }
      handle(req, body, res, fake.url);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}

describe('pfsagentd-swift-auth-plugin, v1 (tempauth)', () => {
  let fake: Fake;
  let issued = 0;
  before(async () => {
    fake = await fakeServer((req, _body, res, base) => {
      if (req.url !== '/auth/v1.0' || req.headers['x-auth-user'] !== 'test:tester' || req.headers['x-auth-key'] !== 'testing') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'X-Auth-Token': `AUTH_tk${++issued}`, 'X-Storage-Url': `${base}/v1/AUTH_test` }).end();
    });
  });
  after(() => fake.close());
  const blob = (over: object = {}) => JSON.stringify({ AuthURL: `${fake.url}/auth/v1.0`, AuthUser: 'test:tester', AuthKey: 'testing', ...over });

  test('authenticates at start and again on each renewal', async () => {
    const { source } = start(SWIFT, blob({ Account: 'AUTH_test' }));
    const c1 = await source.get();
    assert.deepEqual(c1, { kind: 'swift', authToken: `AUTH_tk${issued}`, storageUrl: `${fake.url}/v1/AUTH_test` });
    const c2 = await source.renew(c1);
    assert.ok(c2.kind === 'swift' && c2.authToken === `AUTH_tk${issued}` && c2.authToken !== c1.authToken);
  });

  test('Account replaces the storage URL\'s account; a 503 is retried', async () => {
    fake.failNext = 1;
    const { source } = start(SWIFT, blob({ Account: 'AUTH_other' }));
    const c = await source.get();
    assert.ok(c.kind === 'swift');
    assert.equal(c.storageUrl, `${fake.url}/v1/AUTH_other`);
  });

  test('a refused key: exit 1 and a message without the key; a bad configuration: exit 2', async () => {
    const refused = await runAlone(SWIFT, blob({ AuthKey: 'wrong-key-123' }));
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.equal(refused.stderr, `pfsagentd-swift-auth-plugin: GET ${fake.url}/auth/v1.0 refused AuthUser/AuthKey (401)\n`);
    const unset = await runAlone(SWIFT, undefined);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /environment variable PFS_TEST_AUTH is not set/);
    const missing = await runAlone(SWIFT, JSON.stringify({ AuthURL: `${fake.url}/auth/v1.0`, AuthUser: 'u' }));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /configuration field "AuthKey" is missing/);
  });

  test('through startAuthPlugin, a refused key becomes PFS_ERR_PLUGIN with the stderr line logged', async () => {
    const { source, log } = start(SWIFT, blob({ AuthKey: 'wrong-key-123' }));
    await assert.rejects(source.get(), { code: 'PFS_ERR_PLUGIN' });
    assert.ok(log.messages().some((m) => m.includes('wrote to stderr: pfsagentd-swift-auth-plugin: GET') && m.includes('(401)')));
    assert.ok(log.messages().some((m) => m.includes('exited with code 1')));
    assert.doesNotMatch(log.text(), /wrong-key-123/);
  });
});

describe('pfsagentd-swift-auth-plugin, Keystone v3', () => {
  let fake: Fake;
  let issued = 0;
  before(async () => {
    fake = await fakeServer((req, body, res, base) => {
      const auth = req.method === 'POST' && req.url === '/v3/auth/tokens' ? JSON.parse(body).auth : undefined;
      const user = auth?.identity?.password?.user;
      if (!auth || user.name !== 'swiftuser' || user.password !== 'pw-secret' || user.domain.name !== 'Default'
        || auth.scope.project.name !== 'proj' || auth.scope.project.domain.name !== 'Default') {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":{"code":401}}');
        return;
      }
      const endpoints = (region: string) => ['public', 'internal', 'admin'].map((i) => ({ interface: i, region_id: region, region, url: `${base}/${region}-${i}/v1/AUTH_proj` }));
      const catalog = [
        { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: `${base}/v3` }] },
        { type: 'object-store', endpoints: [...endpoints('RegionOne'), ...endpoints('RegionTwo')] },
      ];
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': `gAAAA-${++issued}` }).end(JSON.stringify({ token: { catalog } }));
    });
  });
  after(() => fake.close());
  const blob = (over: object = {}) => JSON.stringify({ AuthURL: `${fake.url}/v3`, Username: 'swiftuser', Password: 'pw-secret', ProjectName: 'proj', ...over });

  test('the token from X-Subject-Token, the storage URL from the catalog for Region and Interface', async () => {
    const { source } = start(SWIFT, blob({ Region: 'RegionTwo', Interface: 'internal' }));
    const c1 = await source.get();
    assert.deepEqual(c1, { kind: 'swift', authToken: `gAAAA-${issued}`, storageUrl: `${fake.url}/RegionTwo-internal/v1/AUTH_proj` });
    const c2 = await source.renew(c1);
    assert.ok(c2.kind === 'swift' && c2.authToken === `gAAAA-${issued}` && c2.authToken !== c1.authToken);
  });

  test('"AuthVersion": 3 with a base URL; the public interface and the first region by default', async () => {
    const { source } = start(SWIFT, blob({ AuthURL: `${fake.url}/`, AuthVersion: 3 }));
    const c = await source.get();
    assert.ok(c.kind === 'swift');
    assert.equal(c.storageUrl, `${fake.url}/RegionOne-public/v1/AUTH_proj`);
  });

  test('a wrong password: exit 1 without the password; an unknown region: exit 1 naming it', async () => {
    const refused = await runAlone(SWIFT, blob({ Password: 'pw-wrong' }));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused Username\/Password for project proj \(401\)/);
    assert.doesNotMatch(refused.stderr, /pw-wrong/);
    const noRegion = await runAlone(SWIFT, blob({ Region: 'RegionNine' }));
    assert.equal(noRegion.code, 1);
    assert.match(noRegion.stderr, /no object-store endpoint with interface public in region RegionNine/);
  });
});

describe('pfsagentd-s3-auth-plugin', () => {
  test('static keys are printed as they are', async () => {
    const { source } = start(S3, JSON.stringify({ AccessKeyId: 'AKIDSTATIC', SecretAccessKey: 'static-secret', Endpoint: 'http://127.0.0.1:9000', Region: 'us-east-1', Bucket: 'pfs' }));
    const c1 = await source.get();
    assert.deepEqual(c1, { kind: 's3', accessKeyId: 'AKIDSTATIC', secretAccessKey: 'static-secret', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'pfs' });
    const c2 = await source.renew(c1);
    assert.notEqual(c2, c1);
    assert.deepEqual(c2, c1);
  });

  test('a profile is read from the credentials file on every request, so rotation is picked up', async () => {
    const file = path.join(tmp.dir, 'credentials');
    writeFileSync(file, '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[profile pfs]\naws_access_key_id = AKID1\naws_secret_access_key = secret-1\naws_session_token = session-1\nregion = eu-west-1\n');
    const { source } = start(S3, JSON.stringify({ Profile: 'pfs', CredentialsFile: file, Endpoint: 'http://127.0.0.1:9000' }));
    const c1 = await source.get();
    assert.deepEqual(c1, { kind: 's3', accessKeyId: 'AKID1', secretAccessKey: 'secret-1', sessionToken: 'session-1', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' });
    writeFileSync(file, '[pfs]\naws_access_key_id = AKID2\naws_secret_access_key = secret-2\n');
    const c2 = await source.renew(c1);
    assert.deepEqual(c2, { kind: 's3', accessKeyId: 'AKID2', secretAccessKey: 'secret-2', endpoint: 'http://127.0.0.1:9000' });
  });

  test('a missing profile or file: exit 1 saying which', async () => {
    const file = path.join(tmp.dir, 'credentials-2');
    writeFileSync(file, '[default]\naws_access_key_id = A\naws_secret_access_key = s-secret\n');
    const noProfile = await runAlone(S3, JSON.stringify({ Profile: 'nope', CredentialsFile: file }));
    assert.equal(noProfile.code, 1);
    assert.equal(noProfile.stderr, `pfsagentd-s3-auth-plugin: credentials file ${file} has no profile [nope]\n`);
    const noFile = await runAlone(S3, JSON.stringify({ Profile: 'default', CredentialsFile: `${file}.missing` }));
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /cannot read credentials file .*\.missing \(ENOENT\)/);
  });
});

test('examples/minimal-plugin/plugin.sh works through startAuthPlugin and exits on close', async () => {
  const { source } = start(SHELL, 'shell-token-1');
  const c1 = await source.get();
  assert.deepEqual(c1, { kind: 'swift', authToken: 'shell-token-1', storageUrl: 'http://127.0.0.1:8080/v1/AUTH_test' });
  const c2 = await source.renew(c1);
  assert.notEqual(c2, c1);
  assert.equal(source.stats.renewals, 1);
  const t0 = Date.now();
  await source.close();
  assert.ok(Date.now() - t0 < 1000, 'exited on end of stdin, without SIGTERM');
  assert.equal(source.stats.pluginFailures, 0);
});
