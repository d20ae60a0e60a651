import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { describeAgentCert } from './peer-cert.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const fake = (subject: string, subjectAltName: string | undefined, keyUsage: string[] | undefined) => ({ subject, subjectAltName, keyUsage }) as unknown as X509Certificate;

test('describeAgentCert: the agent name and volumes of a certificate, or why it is not an agent certificate', () => {
  assert.deepEqual(describeAgentCert(fake('O=x\nCN=web1', 'DNS:h, URI:pfs-volume:A, URI:"pfs-volume:b%2C c", IP Address:10.0.0.1, URI:https://x', [CLIENT_AUTH])), { name: 'web1', volumes: ['A', 'b, c'] });
  assert.throws(() => describeAgentCert(fake('CN=web1', 'URI:pfs-volume:A', undefined)), /not for client authentication/);
  assert.throws(() => describeAgentCert(fake('CN=web1', 'URI:pfs-volume:A', ['1.3.6.1.5.5.7.3.1'])), /not for client authentication/);
  assert.throws(() => describeAgentCert(fake('CN=a\nCN=b', 'URI:pfs-volume:A', [CLIENT_AUTH])), /one agent name/);
  assert.throws(() => describeAgentCert(fake('CN=a/b', 'URI:pfs-volume:A', [CLIENT_AUTH])), /one agent name/);
  assert.throws(() => describeAgentCert(fake('CN=web1', 'DNS:pfs-volume:A', [CLIENT_AUTH])), /names no volume/);
  assert.throws(() => describeAgentCert(fake('CN=web1', undefined, [CLIENT_AUTH])), /names no volume/);
  assert.throws(() => describeAgentCert(fake('CN=web1', 'URI:pfs-volume:%E0%A4%A', [CLIENT_AUTH])), /names a volume badly/);
});
