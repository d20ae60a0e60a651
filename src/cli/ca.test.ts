// pfs ca: the CA directory and every file it writes are private, nothing is overwritten, the
// certificates carry what the server checks (EKU, SANs, CN, volumes) and verify against the CA.
// Needs Debian's openssl (scripts/install-system-deps.sh tools).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAgentCert } from '../common/rpc/index.js';
import { initCa, issueAgentCert, issueServerCert, runCa } from './ca.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const mode = (p: string) => statSync(p).mode & 0o777;

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pfs-ca-test-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

test('ca init: a private directory with a 0600 EC P-256 key and a CA certificate; never overwritten', withDir(async (dir) => {
  const caDir = join(dir, 'ca');
  const { out, io } = capture();
  assert.equal(await runCa(['init', '--dir', caDir, '--days', '30'], io), 0);
  assert.equal(mode(caDir), 0o700);
  assert.equal(mode(join(caDir, 'ca.key')), 0o600);
  assert.equal(mode(join(caDir, 'ca.crt')), 0o600);
  const ca = new X509Certificate(readFileSync(join(caDir, 'ca.crt')));
  assert.ok(ca.ca, 'CA:TRUE');
  assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), 'self-signed');
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const days = (Date.parse(ca.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `valid ${days} days`);
  assert.ok(!out.join('\n').includes('PRIVATE KEY'), 'no key in the output');

  const keyBefore = readFileSync(join(caDir, 'ca.key'));
  const again = capture();
  assert.equal(await runCa(['init', '--dir', caDir], again.io), 1);
  assert.match(again.err.join('\n'), /ca\.key already exists; not overwritten/);
  assert.deepEqual(readFileSync(join(caDir, 'ca.key')), keyBefore);
}));

test('ca issue-server: serverAuth, the hosts as DNS and IP SANs, signed by the CA; files 0600', withDir(async (dir) => {
  const caDir = join(dir, 'ca');
  await initCa(caDir);
  const s = await issueServerCert(caDir, { hosts: ['vol.example.net', '10.1.2.3', '::1'], out: join(dir, 'server') });
  assert.equal(mode(s.keyPath), 0o600);
  assert.equal(mode(s.certPath), 0o600);
  assert.equal(s.cert.subjectAltName, 'DNS:vol.example.net, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1');
  assert.deepEqual(s.cert.keyUsage, [SERVER_AUTH]);
  assert.ok(!s.cert.ca);
  const ca = new X509Certificate(readFileSync(join(caDir, 'ca.crt')));
  assert.ok(s.cert.checkIssued(ca) && s.cert.verify(ca.publicKey));
  assert.equal(s.cert.checkHost('vol.example.net'), 'vol.example.net');
  assert.equal(s.cert.checkIP('10.1.2.3'), '10.1.2.3');
  await assert.rejects(issueServerCert(caDir, { hosts: ['bad host'], out: join(dir, 'x') }), /neither an IP address nor a DNS name/);
}));

test('ca issue-agent: clientAuth, CN the agent name, one pfs-volume: URI SAN per volume (read back as the server does)', withDir(async (dir) => {
  const caDir = join(dir, 'ca');
  await initCa(caDir);
  const a = await issueAgentCert(caDir, { name: 'web-1.rack2', volumes: ['CommonVolume', 'odd name, with: chars/%'], out: join(dir, 'agent') });
  assert.equal(mode(a.keyPath), 0o600);
  assert.deepEqual(a.cert.keyUsage, [CLIENT_AUTH]);
  assert.deepEqual(describeAgentCert(a.cert), { name: 'web-1.rack2', volumes: ['CommonVolume', 'odd name, with: chars/%'] });
  const ca = new X509Certificate(readFileSync(join(caDir, 'ca.crt')));
  assert.ok(a.cert.checkIssued(ca) && a.cert.verify(ca.publicKey));
  // A server certificate is not an agent certificate.
  const s = await issueServerCert(caDir, { hosts: ['localhost'], out: join(dir, 'server') });
  assert.throws(() => describeAgentCert(s.cert), /not for client authentication/);

  const { err, io } = capture();
  assert.equal(await runCa(['issue-agent', '--dir', caDir, '--name', 'x/y', '--volume', 'V', '--out', join(dir, 'bad')], io), 2);
  assert.match(err.join('\n'), /an agent name is/);
  assert.equal(await runCa(['issue-agent', '--dir', caDir, '--name', 'b', '--out', join(dir, 'b')], io), 2, 'a volume is required');
  assert.equal(await runCa(['issue-agent', '--dir', caDir, '--name', 'b', '--volume', 'V', '--host', 'h', '--out', join(dir, 'b')], io), 2, '--host is not an agent option');
  // Never over an existing file, and nothing half written.
  writeFileSync(join(dir, 'taken.crt'), 'mine');
  assert.equal(await runCa(['issue-agent', '--dir', caDir, '--name', 'c', '--volume', 'V', '--out', join(dir, 'taken')], io), 1);
  assert.match(err.join('\n'), /taken\.crt already exists/);
  assert.equal(readFileSync(join(dir, 'taken.crt'), 'utf8'), 'mine');
  assert.throws(() => statSync(join(dir, 'taken.key')));
  // A CA key others could read signs nothing.
  chmodSync(join(caDir, 'ca.key'), 0o644);
  assert.equal(await runCa(['issue-agent', '--dir', caDir, '--name', 'd', '--volume', 'V', '--out', join(dir, 'd')], io), 1);
  assert.match(err.join('\n'), /pfs ca: the private key .*ca\.key is open to its group and every user \(mode 0644\)/);
  chmodSync(join(caDir, 'ca.key'), 0o600);
  // No CA there.
  assert.equal(await runCa(['issue-agent', '--dir', join(dir, 'none'), '--name', 'c', '--volume', 'V', '--out', join(dir, 'c')], io), 1);
  assert.match(err.join('\n'), /holds no CA/);
}));
