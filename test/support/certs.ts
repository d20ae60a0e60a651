/**
 * Test support: the certificates of a mutual-TLS set-up, made by `pfs ca` (src/cli/ca.ts) as an
 * operator would, plus the ones an attacker or a careless operator holds: an agent certificate
 * of another CA (same agent name), an expired one of the right CA (`openssl ca` with dates in
 * the past, which `pfs ca` cannot make), one for another volume, and a server certificate
 * presented as a client one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCa, issueAgentCert, issueServerCert } from '../../src/cli/ca.js';

export interface CertPair {
  cert: string;
  key: string;
}

export interface MtlsFiles {
  /** The volume CA's certificate ([RPCServer] ClientCAFilePath, [Agent] RetryRPCCACertFilePath). */
  ca: string;
  server: CertPair;
  /** agent-a, for `volume`. */
  agent: CertPair;
  /** agent-a again, for `volume`, but of another CA. */
  otherCa: CertPair;
  /** agent-a, for `volume`, of the right CA, expired a while ago. */
  expired: CertPair;
  /** agent-b, for OtherVolume only. */
  otherVolume: CertPair;
}

/** Makes the CA and every certificate under dir; the server's names are 127.0.0.1 and localhost. */
export async function makeMtlsFiles(dir: string, volume: string): Promise<MtlsFiles> {
  const caDir = join(dir, 'ca');
  await initCa(caDir);
  await initCa(join(dir, 'other-ca'));
  const pair = (prefix: string): CertPair => ({ cert: `${prefix}.crt`, key: `${prefix}.key` });
  await issueServerCert(caDir, { hosts: ['127.0.0.1', 'localhost'], out: join(dir, 'server') });
  await issueAgentCert(caDir, { name: 'agent-a', volumes: [volume], out: join(dir, 'agent') });
  await issueAgentCert(join(dir, 'other-ca'), { name: 'agent-a', volumes: [volume], out: join(dir, 'other-ca-agent') });
  await issueAgentCert(caDir, { name: 'agent-b', volumes: ['OtherVolume'], out: join(dir, 'other-volume') });
  expiredAgentCert(caDir, join(dir, 'expired'), 'agent-a', volume);
  return {
    ca: join(caDir, 'ca.crt'), server: pair(join(dir, 'server')), agent: pair(join(dir, 'agent')),
    otherCa: pair(join(dir, 'other-ca-agent')), expired: pair(join(dir, 'expired')), otherVolume: pair(join(dir, 'other-volume')),
  };
}

/** An agent certificate of caDir's CA valid in January 2020 only. */
function expiredAgentCert(caDir: string, prefix: string, name: string, volume: string): void {
  const work = `${prefix}-ca-work`;
  mkdirSync(work, { mode: 0o700 });
  writeFileSync(join(work, 'index.txt'), '');
  writeFileSync(join(work, 'serial'), '1000\n');
  const cnf = join(work, 'openssl.cnf');
  writeFileSync(cnf, `[ca]
default_ca = pfs
[pfs]
database = ${join(work, 'index.txt')}
new_certs_dir = ${work}
serial = ${join(work, 'serial')}
default_md = sha256
policy = any
x509_extensions = ext
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = URI:pfs-volume:${encodeURIComponent(volume)}
[req]
prompt = no
distinguished_name = dn
[dn]
CN = ${name}
`);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, OPENSSL_CONF: '/dev/null' } });
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${prefix}.key`]);
  chmodSync(`${prefix}.key`, 0o600);
  openssl(['req', '-new', '-config', cnf, '-key', `${prefix}.key`, '-out', join(work, 'csr')]);
  openssl(['ca', '-batch', '-notext', '-config', cnf, '-cert', join(caDir, 'ca.crt'), '-keyfile', join(caDir, 'ca.key'),
    '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-in', join(work, 'csr'), '-out', `${prefix}.crt`]);
}

/**
 * Copies the CA certificate and pairs into a directory uid can read (the pairs' keys 0600 and
 * owned by uid), for a client run as that uid; returns the copies.
 */
export function filesFor<T extends Record<string, CertPair>>(dir: string, uid: number, ca: string, pairs: T): { ca: string; pairs: T } {
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const give = (src: string, name: string, mode: number): string => {
    const dst = join(dir, name);
    copyFileSync(src, dst);
    chownSync(dst, uid, uid);
    chmodSync(dst, mode);
    return dst;
  };
  const out = Object.fromEntries(Object.entries(pairs).map(([k, p]) => [k, { cert: give(p.cert, `${k}.crt`, 0o644), key: give(p.key, `${k}.key`, 0o600) }])) as T;
  return { ca: give(ca, 'ca.crt', 0o644), pairs: out };
}
