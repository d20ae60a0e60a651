/**
 * pfs ca: the volume's certificate authority, for mutual TLS between agents and proxyfsd
 * (docs/SECURITY.md §2).
 *   pfs ca init --dir DIR [--days N]
 *       DIR (made 0700) gets ca.key (EC P-256, 0600) and ca.crt (self-signed, CA:TRUE, pathlen 0).
 *       Refuses a DIR that already holds either.
 *   pfs ca issue-server --dir DIR --host NAME_OR_IP [--host ...] --out PREFIX [--days N]
 *       PREFIX.key and PREFIX.crt for proxyfsd ([RPCServer] KeyFilePath, CertFilePath): serverAuth,
 *       the hosts as DNS or IP SANs (agents connect to one of them: RetryRPCPublicIPAddr).
 *   pfs ca issue-agent --dir DIR --name AGENT --volume NAME [--volume ...] --out PREFIX [--days N]
 *       PREFIX.key and PREFIX.crt for one agent ([Agent] RetryRPCKeyFilePath, RetryRPCCertFilePath):
 *       clientAuth, subject CN=AGENT (its identity at the server, `cert:AGENT`), one URI SAN
 *       `pfs-volume:NAME` per volume it may use (common/rpc peer-cert.ts reads them back).
 * Keys are made and signed by Debian's `openssl` (execFile; only paths and public values on its
 * command line), in a private temporary directory; outputs are written 0600 and never over an
 * existing file. A key never reaches the output or an error message.
 * Exit codes: 0 done, 1 failure, 2 usage.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PfsError } from '../common/errors/index.js';
import { AGENT_NAME, describeAgentCert, readPrivateKeyFile, volumeUri } from '../common/rpc/index.js';

const run = promisify(execFile);

const USAGE = `usage:
  pfs ca init --dir DIR [--days N]
  pfs ca issue-server --dir DIR --host NAME_OR_IP [--host ...] --out PREFIX [--days N]
  pfs ca issue-agent --dir DIR --name AGENT --volume NAME [--volume ...] --out PREFIX [--days N]
`;

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

class UsageError extends Error {}

export interface CaIo {
  out(line: string): void;
  err(line: string): void;
}

/** `pfs ca ...` with the arguments after `ca`; the exit code. */
export async function runCa(args: string[], io: CaIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }): Promise<number> {
  try {
    const [sub, ...rest] = args;
    const { values: v, positionals } = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: { dir: { type: 'string' }, days: { type: 'string' }, out: { type: 'string' }, name: { type: 'string' }, host: { type: 'string', multiple: true }, volume: { type: 'string', multiple: true } },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const allowed: Record<string, string[]> = { init: ['dir', 'days'], 'issue-server': ['dir', 'days', 'host', 'out'], 'issue-agent': ['dir', 'days', 'name', 'volume', 'out'] };
    if (sub === undefined || !allowed[sub]) throw new UsageError(sub === undefined ? 'missing command' : `unknown command ca ${JSON.stringify(sub)}`);
    for (const k of Object.keys(v)) if (!allowed[sub]!.includes(k)) throw new UsageError(`--${k} is not an option of ca ${sub}`);
    if (!v.dir) throw new UsageError('missing --dir');
    const days = v.days === undefined ? undefined : Number(v.days);
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 36500)) throw new UsageError('--days must be a whole number of days from 1 to 36500');
    if (sub === 'init') return report(io, await initCa(v.dir, { days }));
    if (!v.out) throw new UsageError('missing --out');
    if (sub === 'issue-server') {
      if (!v.host?.length) throw new UsageError('missing --host');
      return report(io, await issueServerCert(v.dir, { hosts: v.host, out: v.out, days }));
    }
    if (!v.name) throw new UsageError('missing --name');
    if (!v.volume?.length) throw new UsageError('missing --volume');
    return report(io, await issueAgentCert(v.dir, { name: v.name, volumes: v.volume, out: v.out, days }));
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`pfs ca: ${(err as Error).message}${usage ? `\n${USAGE}` : ''}`);
    return usage ? 2 : 1;
  }
}

export interface Issued {
  keyPath: string;
  certPath: string;
  cert: X509Certificate;
}

/** Makes DIR/ca.key and DIR/ca.crt; refuses when either exists. Default 3650 days. */
export async function initCa(dir: string, opts: { days?: number } = {}): Promise<Issued> {
  const keyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'ca.crt');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!statSync(dir).isDirectory()) throw new PfsError('PFS_ERR_CONFIG', `${dir} is not a directory`);
  refuseExisting(keyPath, certPath);
  chmodSync(dir, 0o700);
  return inScratch(async (tmp) => {
    const cnf = writeConf(tmp, `pfs CA ${randomBytes(4).toString('hex')}`, [
      'basicConstraints = critical, CA:TRUE, pathlen:0',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
    ]);
    await newKey(join(tmp, 'key'));
    await openssl(['req', '-new', '-x509', '-config', cnf, '-extensions', 'ext', '-key', join(tmp, 'key'), '-sha256',
      '-days', String(opts.days ?? 3650), '-set_serial', serial(), '-out', join(tmp, 'crt')]);
    return publish(tmp, keyPath, certPath);
  });
}

/** A server certificate for proxyfsd with the hosts as SANs. Default 365 days. */
export async function issueServerCert(dir: string, opts: { hosts: string[]; out: string; days?: number }): Promise<Issued> {
  const sans = opts.hosts.map((h) => {
    if (isIP(h)) return `IP:${h}`;
    if (DNS_NAME.test(h)) return `DNS:${h}`;
    throw new UsageError(`--host ${JSON.stringify(h)} is neither an IP address nor a DNS name`);
  });
  return issue(dir, opts.out, opts.days, opts.hosts[0]!, ['extendedKeyUsage = serverAuth', `subjectAltName = ${sans.join(', ')}`]);
}

/** An agent certificate: CN=name, one pfs-volume: URI SAN per volume. Default 365 days. */
export async function issueAgentCert(dir: string, opts: { name: string; volumes: string[]; out: string; days?: number }): Promise<Issued> {
  if (!AGENT_NAME.test(opts.name)) throw new UsageError(`--name ${JSON.stringify(opts.name)}: an agent name is 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`);
  if (opts.volumes.some((v) => v === '')) throw new UsageError('--volume must name a volume');
  const issued = await issue(dir, opts.out, opts.days, opts.name, ['extendedKeyUsage = clientAuth', `subjectAltName = ${[...new Set(opts.volumes)].map((v) => `URI:${volumeUri(v)}`).join(', ')}`]);
  describeAgentCert(issued.cert); // what the server will read back
  return issued;
}

/** Signs a new EC key's certificate with DIR's CA into PREFIX.key and PREFIX.crt. */
async function issue(dir: string, prefix: string, days: number | undefined, cn: string, ext: string[]): Promise<Issued> {
  const caKey = join(dir, 'ca.key');
  const caCrt = join(dir, 'ca.crt');
  if (!existsSync(caKey) || !existsSync(caCrt)) throw new PfsError('PFS_ERR_CONFIG', `${dir} holds no CA (ca.key and ca.crt): run pfs ca init --dir ${dir}`);
  readPrivateKeyFile(caKey, 'pfs ca'); // a CA key others could read signs nothing more
  const keyPath = `${prefix}.key`;
  const certPath = `${prefix}.crt`;
  refuseExisting(keyPath, certPath);
  return inScratch(async (tmp) => {
    const cnf = writeConf(tmp, cn, [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      ...ext,
    ]);
    await newKey(join(tmp, 'key'));
    await openssl(['req', '-new', '-config', cnf, '-key', join(tmp, 'key'), '-out', join(tmp, 'csr')]);
    await openssl(['x509', '-req', '-in', join(tmp, 'csr'), '-CA', caCrt, '-CAkey', caKey, '-set_serial', serial(), '-sha256',
      '-days', String(days ?? 365), '-extfile', cnf, '-extensions', 'ext', '-out', join(tmp, 'crt')]);
    const issued = publish(tmp, keyPath, certPath);
    const ca = new X509Certificate(readFileSync(caCrt));
    if (!issued.cert.checkIssued(ca) || !issued.cert.verify(ca.publicKey)) throw new PfsError('PFS_ERR_INTERNAL', `${certPath} does not verify against ${caCrt}`);
    return issued;
  });
}

function report(io: CaIo, issued: Issued): number {
  const c = issued.cert;
  io.out(`pfs ca: wrote ${issued.keyPath} (private key, 0600) and ${issued.certPath}`);
  io.out(`  subject: ${c.subject.replaceAll('\n', ', ')}`);
  if (c.subjectAltName) io.out(`  names: ${c.subjectAltName}`);
  io.out(`  valid until: ${c.validTo}`);
  io.out(`  SHA-256: ${c.fingerprint256}`);
  return 0;
}

function refuseExisting(...paths: string[]): void {
  for (const p of paths) if (existsSync(p)) throw new PfsError('PFS_ERR_CONFIG', `${p} already exists; not overwritten`);
}

/** Runs fn in a private temporary directory, removed afterwards. */
async function inScratch<T>(fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = mkdtempSync(join(tmpdir(), 'pfs-ca-'));
  try {
    return await fn(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies tmp/key and tmp/crt to their places, 0600, failing on an existing file (nothing half written stays). */
function publish(tmp: string, keyPath: string, certPath: string): Issued {
  const certPem = readFileSync(join(tmp, 'crt'));
  writeFileSync(keyPath, readFileSync(join(tmp, 'key')), { mode: 0o600, flag: 'wx' });
  try {
    writeFileSync(certPath, certPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    unlinkSync(keyPath);
    throw err;
  }
  return { keyPath, certPath, cert: new X509Certificate(certPem) };
}

/** An openssl config: the subject and the extensions of the certificate (section `ext`). */
function writeConf(tmp: string, cn: string, ext: string[]): string {
  const path = join(tmp, 'openssl.cnf');
  writeFileSync(path, `[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = ${cn}\n[ext]\n${ext.join('\n')}\n`, { mode: 0o600 });
  return path;
}

function newKey(path: string): Promise<void> {
  return openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** A positive random 127-bit serial number. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return `0x${b.toString('hex')}`;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OPENSSL_CONF: '/dev/null' } });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new PfsError('PFS_ERR_CONFIG', 'openssl is not installed (Debian package openssl: scripts/install-system-deps.sh tools)');
    throw new PfsError('PFS_ERR_INTERNAL', `openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(0, 3).join(' / ')}`);
  }
}
