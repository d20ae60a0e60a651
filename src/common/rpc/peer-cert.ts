/**
 * A peer identified by its TLS client certificate (docs/SECURITY.md §2), on a server whose
 * `[RPCServer] ClientCAFilePath` names the CA(s) that sign agent certificates.
 *
 * What a certificate must be to identify its peer (`pfs ca issue-agent` makes such ones):
 * - verified by TLS against the configured CA(s): chain, validity dates (checked by OpenSSL
 *   during the handshake; `socket.authorized`);
 * - for client authentication: extended key usage clientAuth;
 * - one subject CN, an agent name (AGENT_NAME): the identity, key `cert:NAME`. The name the CA
 *   vouched for, not the certificate's fingerprint, so a renewed certificate of the same agent is
 *   the same peer (its client IDs and mounts stay bound to it);
 * - the volumes it may use as URI SANs `pfs-volume:NAME` (the name percent-encoded): its calls
 *   reach those volumes only. A certificate naming none is refused.
 * These rules are shared with the issuing side (cli/ca.ts) through the exports below.
 */
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { PeerIdentity } from './peer.js';

/** Agent names: what a certificate's CN must be (also safe in logs, keys and openssl -subj). */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The scheme of the URI SANs that name the volumes a certificate authorises. */
export const VOLUME_URI_SCHEME = 'pfs-volume:';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The URI SAN that authorises volume `name`. */
export function volumeUri(name: string): string {
  return VOLUME_URI_SCHEME + encodeURIComponent(name);
}

/** True when the TLS peer presented a certificate (verified or not). */
export function hasPeerCertificate(socket: TLSSocket): boolean {
  const c = socket.getPeerCertificate() as PeerCertificate | Record<string, never> | null;
  return c !== null && Object.keys(c).length > 0;
}

/**
 * The identity of a peer that presented a client certificate; throws with the reason (no
 * secret in it) when the certificate does not identify it.
 */
export function certIdentity(socket: TLSSocket, address: string): PeerIdentity {
  if (!socket.authorized) {
    throw new Error(`its client certificate was not accepted (${String(socket.authorizationError ?? 'not verified')})`);
  }
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new Error('its client certificate could not be read');
  const { name, volumes } = describeAgentCert(cert);
  return { key: `cert:${name}`, address, volumes, certName: name, fingerprint: cert.fingerprint256.replaceAll(':', '').slice(0, 16).toLowerCase() };
}

/** The agent name and volumes of a certificate; throws when it is not an agent certificate. */
export function describeAgentCert(cert: X509Certificate): { name: string; volumes: string[] } {
  if (!(cert.keyUsage ?? []).includes(CLIENT_AUTH_OID)) throw new Error('its certificate is not for client authentication (no clientAuth extended key usage)');
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  if (cns.length !== 1 || !AGENT_NAME.test(cns[0]!)) throw new Error('its certificate\'s subject does not hold one agent name (CN of [A-Za-z0-9._-], at most 64)');
  const volumes = sanUris(cert.subjectAltName).filter((u) => u.startsWith(VOLUME_URI_SCHEME)).map((u) => volumeName(u));
  if (volumes.length === 0) throw new Error(`its certificate names no volume (a URI SAN ${VOLUME_URI_SCHEME}NAME)`);
  return { name: cns[0]!, volumes };
}

function volumeName(uri: string): string {
  try {
    return decodeURIComponent(uri.slice(VOLUME_URI_SCHEME.length));
  } catch {
    throw new Error(`its certificate names a volume badly (${JSON.stringify(uri.slice(0, 80))})`);
  }
}

/** The URI entries of Node's subjectAltName text: `TYPE:value` joined by `, `, a value with special characters as a JSON string. */
function sanUris(text: string | undefined): string[] {
  const out: string[] = [];
  let rest = text ?? '';
  while (rest !== '') {
    const m = /^([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,"]*)(?:, |$)/.exec(rest);
    if (!m) throw new Error('its certificate\'s subject alternative names could not be read');
    if (m[1] === 'URI') out.push(m[2]!.startsWith('"') ? JSON.parse(m[2]!) as string : m[2]!);
    rest = rest.slice(m[0].length);
  }
  return out;
}
