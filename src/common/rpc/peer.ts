/**
 * Who is at the other end of an RPC connection, found before its HELLO is served
 * (docs/SECURITY.md §2).
 *
 * - A loopback peer (127.0.0.0/8, ::1, or their IPv4-mapped forms), with or without TLS: the
 *   uid that owns the peer's socket (the one whose local end is the peer's address and port and
 *   whose remote end is ours), asked of the kernel by that four-tuple: one netlink sock_diag
 *   lookup (common/native sockdiag.c, microseconds), or without the addon a scan of
 *   /proc/net/tcp and tcp6 (milliseconds per thousand sockets). The kernel records that uid
 *   when the socket is made; an unprivileged process cannot make a socket that shows another
 *   uid. Key `uid:N`.
 * - A TLS peer that presented a client certificate (a server with ClientCAFilePath asks for one),
 *   whatever its address: the agent name its certificate holds, key `cert:NAME`, and the volumes
 *   the certificate authorises (peer-cert.ts). A certificate that does not verify or is not an
 *   agent certificate: not identified, refused (the error says why).
 * - Any other address: not identified (key `remote`); a server serves it only when its policy
 *   says so in so many words (AllowUnauthenticatedTCP).
 * A loopback peer whose row is gone (it closed at once) is not identified either.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isIPv4, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { nativeAddon } from '../native/addon.js';
import { certIdentity, hasPeerCertificate } from './peer-cert.js';

export interface PeerIdentity {
  /** What sessions are bound to: `uid:N`, `cert:NAME`, or `remote` for a peer nobody vouches for. */
  key: string;
  /** The peer socket's owner, when it is local. */
  uid?: number;
  /** A certificate peer: the volumes its certificate authorises (undefined: not limited by a certificate). */
  volumes?: readonly string[];
  /** A certificate peer: its agent name (the certificate's CN) and the first 16 hex digits of the certificate's SHA-256, for logs. */
  certName?: string;
  fingerprint?: string;
  /** address:port, for logs. */
  address: string;
}

export interface SocketRow {
  local: string;
  remote: string;
  uid: number;
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = unmapped(address);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export async function identifyPeer(socket: Socket, readTable: (name: 'tcp' | 'tcp6') => Promise<string> = readProcNet): Promise<PeerIdentity> {
  const remote = socket.remoteAddress;
  const address = `${remote ?? '?'}:${socket.remotePort ?? '?'}`;
  if (socket instanceof TLSSocket && hasPeerCertificate(socket)) return certIdentity(socket, address);
  if (!isLoopback(remote) || socket.remotePort === undefined || socket.localAddress === undefined || socket.localPort === undefined) {
    return { key: 'remote', address };
  }
  const addon = readTable === readProcNet ? nativeAddon() : null;
  if (addon) {
    const uid = diagUid(addon.tcpPeerUid, remote!, socket.remotePort, socket.localAddress, socket.localPort);
    return uid >= 0 ? { key: `uid:${uid}`, uid, address } : { key: 'remote', address };
  }
  const peerEnd = endpoint(remote!, socket.remotePort);
  const ourEnd = endpoint(socket.localAddress, socket.localPort);
  for (const table of ['tcp', 'tcp6'] as const) {
    let text: string;
    try {
      text = await readTable(table);
    } catch {
      continue; // no IPv6 in this kernel, or no /proc: not identified
    }
    for (const row of parseSocketTable(text)) {
      if (row.local === peerEnd && row.remote === ourEnd) return { key: `uid:${row.uid}`, uid: row.uid, address };
    }
  }
  return { key: 'remote', address };
}

const GROUPS_TTL_MS = 60_000;
const groupsCache = new Map<number, { gids: Promise<number[]>; atMs: number }>();

/**
 * The groups of the user with this uid as the system's user database gives them (`id -G`, so
 * NSS sources count too): primary and supplementary. None when the uid has no user entry.
 * Cached for a minute.
 */
export function userGroups(uid: number): Promise<number[]> {
  const now = performance.now();
  const hit = groupsCache.get(uid);
  if (hit && now - hit.atMs < GROUPS_TTL_MS) return hit.gids;
  if (groupsCache.size >= 1024) groupsCache.clear();
  const gids = new Promise<number[]>((resolve) => {
    execFile('id', ['-G', '--', String(uid)], { timeout: 5000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout) => {
      resolve(err ? [] : stdout.trim().split(/\s+/).map(Number).filter((g) => Number.isSafeInteger(g) && g >= 0));
    });
  });
  groupsCache.set(uid, { gids, atMs: now });
  return gids;
}

/** Rows of /proc/net/tcp or tcp6 with addresses as `ip:port` (IPv4-mapped IPv6 as plain IPv4). */
export function parseSocketTable(text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const local = hexEndpoint(f[1]!);
    const remote = hexEndpoint(f[2]!);
    const uid = Number(f[7]);
    if (local && remote && Number.isSafeInteger(uid)) rows.push({ local, remote, uid });
  }
  return rows;
}

type TcpPeerUid = (family: 4 | 6, srcIp: Buffer, srcPort: number, dstIp: Buffer, dstPort: number) => number;

/** The sock_diag lookup: IPv4 (also for IPv4-mapped addresses, as an IPv4 client's socket is), then IPv6. */
function diagUid(tcpPeerUid: TcpPeerUid, src: string, srcPort: number, dst: string, dstPort: number): number {
  const s = unmapped(src);
  const d = unmapped(dst);
  if (isIPv4(s) && isIPv4(d)) {
    const uid = tcpPeerUid(4, ipBytes(s), srcPort, ipBytes(d), dstPort);
    if (uid >= 0) return uid;
  }
  return tcpPeerUid(6, ipBytes(src), srcPort, ipBytes(dst), dstPort);
}

/** 4 bytes for dotted IPv4, 16 for IPv6 (IPv4-mapped included). */
function ipBytes(a: string): Buffer {
  if (isIPv4(a)) return Buffer.from(a.split('.').map(Number));
  const lower = a.toLowerCase();
  const mapped = lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : undefined;
  if (mapped) return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), Buffer.from(mapped.split('.').map(Number))]);
  const groups = canonicalIp(lower).split(':');
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function readProcNet(name: 'tcp' | 'tcp6'): Promise<string> {
  return readFile(`/proc/net/${name}`, 'latin1');
}

function unmapped(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function endpoint(address: string, port: number): string {
  return `${canonicalIp(unmapped(address))}:${port}`;
}

/** IPv6 in full lower-case hex groups without zero compression, IPv4 as is. */
function canonicalIp(a: string): string {
  if (!a.includes(':')) return a;
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** `0100007F:1F90` (IPv4) or 32 hex digits (IPv6, four host-order words) plus port. */
function hexEndpoint(field: string): string | undefined {
  const [ip, port] = field.split(':');
  if (!ip || !port || !/^[0-9A-Fa-f]+$/.test(ip + port)) return undefined;
  const words = ip.match(/.{8}/g);
  if (!words || (words.length !== 1 && words.length !== 4)) return undefined;
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)));
  let text: string;
  if (bytes.length === 4) {
    text = bytes.join('.');
  } else if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    text = bytes.slice(12).join('.');
  } else {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    text = groups.join(':');
  }
  return `${text}:${parseInt(port, 16)}`;
}
