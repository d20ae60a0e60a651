/**
 * RPC server: accepts connections, identifies each peer before serving its HELLO (peer.ts: by
 * its TLS client certificate, or the uid owning a loopback socket; a peer the policy does not
 * allow gets a REFUSED frame and is closed), greets clients by
 * clientId, binds each clientId to the peer that first used it (a HELLO for it from another
 * peer is refused), answers each request exactly once per clientId + requestId, batches
 * dispatches (group commit) and sends upcalls.
 * Lookup order for a request: in-flight -> memory cache -> durableReplies -> dispatch.
 * A reply goes to the client's connection current at completion time; with none, it waits in
 * the cache for the client's resend.
 */
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { toWireError, type WireError } from '../errors/index.js';
import { LogRateLimiter, shortId } from '../log/index.js';
import { identifyPeer, userGroups, type PeerIdentity } from './peer.js';
import { Batcher, normalizeReply } from './batcher.js';
import { FramedConnection } from './connection.js';
import { encodeFrame, FRAME_HEADER_BYTES, PROTOCOL_VERSION, type Frame } from './frame.js';
import { ClientReplyCache } from './reply-cache.js';
import { DEFAULT_SERVER_LIMITS, type ActsAs, type PeerPolicy, type RpcDispatcher, type RpcServer, type RpcServerOptions, type ServerLimits, type WireReply } from './types.js';
import type { FrameBudget } from './connection.js';

interface ClientState {
  readonly clientId: string;
  /** The connection held because this client had MAX_IN_FLIGHT calls running. */
  heldConn?: FramedConnection;
  /** The peer key the clientId is bound to. */
  readonly owner: string;
  /** The one user its current connection's peer may act as, when restricted (refreshed at each HELLO). */
  actsAs: ActsAs | undefined;
  /** The volumes the peer's certificate authorises, as of its latest HELLO (undefined: not a certificate peer). */
  peerVolumes: readonly string[] | undefined;
  readonly cache: ClientReplyCache;
  conn: FramedConnection | undefined;
  lastSeenMs: number;
}

type RequestFrame = Extract<Frame, { kind: 'request' }>;

/** Calls of one client running at once; its connection is not read from beyond (an agent runs tens). */
const MAX_IN_FLIGHT = 256;

/** At most one log line per kind of limit hit in this long. */
const LIMIT_LOG_MS = 10_000;

export async function createRpcServer(opts: RpcServerOptions, dispatcher: RpcDispatcher): Promise<RpcServer> {
  const server = new Server(opts, dispatcher);
  await server.listen();
  return server;
}

class Server implements RpcServer {
  port = 0;
  private readonly serverId = randomUUID().replaceAll('-', '');
  private readonly clients = new Map<string, ClientState>();
  private readonly conns = new Set<FramedConnection>();
  private readonly listener: net.Server;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly batcher: Batcher;
  private readonly peers: PeerPolicy;
  private readonly limits: ServerLimits;
  /** Identified connections per peer key. */
  private readonly perPeer = new Map<string, number>();
  private readonly budget: FrameBudget;
  /** Limit hits by kind: one line per kind every LIMIT_LOG_MS. */
  private readonly limitHits = new LogRateLimiter({ windowMs: LIMIT_LOG_MS, linesPerWindow: 1 });
  private closePromise: Promise<void> | undefined;
  private readonly ownUid = process.geteuid?.() ?? 0;

  constructor(private readonly opts: RpcServerOptions, private readonly dispatcher: RpcDispatcher) {
    this.batcher = new Batcher(dispatcher, opts.log);
    this.peers = opts.peers ?? { allowedUids: [...new Set([0, this.ownUid])], allowUnauthenticated: false };
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits };
    let budgetLeft = this.limits.bigFrameBudgetBytes;
    this.budget = {
      take: (n) => {
        if (n > budgetLeft) return false;
        budgetLeft -= n;
        return true;
      },
      give: (n) => { budgetLeft += n; },
    };
    if (opts.tls) {
      // A client certificate is asked for, not required: a peer without one is identified as
      // without TLS, and one whose certificate does not verify is refused after the handshake
      // with the reason (peer.ts), so an agent fails at once with it instead of redialling.
      const clientCa = opts.tls.clientCaPem;
      this.listener = tls.createServer({
        cert: opts.tls.certPem, key: opts.tls.keyPem,
        ...(clientCa !== undefined && { ca: clientCa, requestCert: true, rejectUnauthorized: false }),
      });
      this.listener.on('secureConnection', (socket: tls.TLSSocket) => this.onSocket(socket));
      this.listener.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        this.rateLimitedWarn('tls handshake', { remote: socket.remoteAddress, reason: err.message }, 'rpc TLS handshake failed');
      });
    } else {
      this.listener = net.createServer((socket) => this.onSocket(socket));
    }
    // The kernel's accept queue holds the rest; Node closes connections past the limit at once.
    this.listener.maxConnections = this.limits.maxConnections;
    this.listener.on('drop', (d?: { remoteAddress?: string }) => this.limitHit('connections', `more than ${this.limits.maxConnections} connections at once ([RPCServer] MaxConnections)`, d?.remoteAddress ?? '?'));
    const sweepMs = Math.max(10, Math.min(opts.replyCacheTtlMs, 10_000));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.opts.port, this.opts.host, () => {
        this.listener.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      clearInterval(this.sweepTimer);
      throw err;
    });
    this.listener.on('error', (err) => this.opts.log.error({ err: err.message }, 'rpc listener error'));
    this.port = (this.listener.address() as net.AddressInfo).port;
    this.opts.log.info({ host: this.opts.host, port: this.port, tls: !!this.opts.tls, clientCertificates: this.opts.tls?.clientCaPem !== undefined }, 'rpc server listening');
  }

  upcall(clientId: string, method: string, params: unknown): boolean {
    const conn = this.clients.get(clientId)?.conn;
    if (!conn?.open) return false;
    try {
      return conn.send({ kind: 'upcall', method, params });
    } catch (err) {
      this.opts.log.error({ clientId: shortId(clientId), method, err: (err as Error).message }, 'rpc upcall not serialisable');
      return false;
    }
  }

  connectedClients(): string[] {
    return [...this.clients.values()].filter((c) => c.conn !== undefined).map((c) => c.clientId);
  }

  close(): Promise<void> {
    this.closePromise ??= (async () => {
      clearInterval(this.sweepTimer);
      const listenerClosed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
      await this.batcher.whenIdle();
      for (const conn of this.conns) conn.end('server closing');
      await listenerClosed;
    })();
    return this.closePromise;
  }

  private get closing(): boolean {
    return this.closePromise !== undefined;
  }

  private onSocket(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    let client: ClientState | undefined;
    let peer: PeerIdentity | undefined;
    let actsAs: ActsAs | undefined;
    const hello = (clientId: string, version: number): void => {
      if (version !== PROTOCOL_VERSION) return conn.protocolError(`unsupported protocol version ${version}`);
      if (this.closing) return conn.end('server closing');
      const refusal = this.clientRefusal(clientId, peer!);
      if (refusal) return this.refuse(conn, peer!, refusal, clientId);
      clearTimeout(helloTimer);
      client = this.attach(clientId, peer!, conn);
      client.actsAs = actsAs;
    };
    let counted: string | undefined;
    const conn: FramedConnection = new FramedConnection(
      socket,
      {
        maxFrameBytes: this.opts.maxFrameBytes, keepAliveMs: this.opts.keepAliveMs, log: this.opts.log, logContext: { side: 'server' },
        frameDeadlineMs: this.limits.frameDeadlineMs, maxSendBufferBytes: this.limits.maxSendBufferBytes, budget: this.budget,
      },
      {
        onFrame: (frame) => {
          if (frame.kind === 'hello') {
            if (client) return conn.protocolError('second hello on one connection');
            hello(frame.clientId, frame.version);
          } else if (frame.kind === 'request') {
            if (!client) return conn.protocolError('request before hello');
            this.onRequest(client, frame);
          } else {
            conn.protocolError(`unexpected ${frame.kind} frame from a client`);
          }
        },
        onClose: (reason) => {
          clearTimeout(helloTimer);
          this.conns.delete(conn);
          if (counted !== undefined) {
            const left = (this.perPeer.get(counted) ?? 1) - 1;
            if (left > 0) this.perPeer.set(counted, left);
            else this.perPeer.delete(counted);
          }
          if (!client || client.conn !== conn) return;
          client.conn = undefined;
          client.lastSeenMs = performance.now();
          this.opts.log.info({ clientId: shortId(client.clientId), remote: conn.remote, reason }, 'rpc client disconnected');
          this.notifyConnection(client.clientId, false);
        },
      },
    );
    this.conns.add(conn);
    const helloTimer = setTimeout(() => conn.protocolError('no hello in time'), Math.min(this.limits.helloTimeoutMs, 2 * this.opts.keepAliveMs));
    helloTimer.unref();
    // Nothing the peer sent is read until it is identified (its bytes wait in the socket).
    conn.hold();
    (this.opts.identifyPeer ?? identifyPeer)(socket).then(async (who) => {
      if (!conn.open) return;
      const refusal = this.peerRefusal(who);
      if (refusal) return this.refuse(conn, who, refusal);
      this.perPeer.set(who.key, (this.perPeer.get(who.key) ?? 0) + 1);
      counted = who.key;
      peer = who;
      // A local agent of an allowed uid other than root and our own acts only as that user.
      if (who.uid !== undefined && who.uid !== 0 && who.uid !== this.ownUid) actsAs = { uid: who.uid, gids: await userGroups(who.uid) };
      if (conn.open) conn.release();
    }).catch((err: unknown) => {
      this.refuse(conn, { key: 'remote', address: conn.remote }, `the peer could not be identified: ${(err as Error)?.message ?? String(err)}`);
    });
  }

  /** Counts a hit of a limit; logs one warn line per kind at most every LIMIT_LOG_MS, with the hits since. */
  private limitHit(kind: string, what: string, peer: string): void {
    this.rateLimitedWarn(kind, { peer }, `rpc connection refused: ${what}`);
  }

  /** One warn line per kind at most every LIMIT_LOG_MS, with how many times it happened since (`times`). */
  private rateLimitedWarn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const times = this.limitHits.hit(kind); // many peers: past 1000 kinds the counts start over
    if (times > 0) this.opts.log.warn({ ...fields, times }, msg);
  }

  /** Why this peer may not be served at all, or undefined. */
  private peerRefusal(peer: PeerIdentity): string | undefined {
    const n = this.perPeer.get(peer.key) ?? 0;
    if (n >= this.limits.maxConnectionsPerPeer) return `this peer already has ${n} connections ([RPCServer] MaxConnectionsPerPeer)`;
    if (peer.volumes !== undefined) return undefined; // its certificate verified against [RPCServer] ClientCAFilePath
    if (peer.uid !== undefined) {
      return this.peers.allowedUids.includes(peer.uid) ? undefined : `a local peer of uid ${peer.uid} is not allowed ([RPCServer] AllowedUIDs)`;
    }
    if (this.peers.allowUnauthenticated) return undefined;
    return 'the peer is not authenticated: without an agent certificate of the volume\'s CA ([RPCServer] ClientCAFilePath), ' +
      'only local processes of an allowed uid ([RPCServer] AllowedUIDs) are served, unless [RPCServer] AllowUnauthenticatedTCP is set';
  }

  /** Why this peer may not use clientId (bound to another peer), or undefined. */
  private clientRefusal(clientId: string, peer: PeerIdentity): string | undefined {
    const known = this.clients.get(clientId);
    if (known && known.owner !== peer.key) return 'this client ID belongs to another peer';
    try {
      return this.dispatcher.clientRefusal?.(clientId, peer.key);
    } catch (err) {
      this.opts.log.error({ clientId: shortId(clientId), err: (err as Error)?.message }, 'rpc clientRefusal failed');
      return 'the server could not check this client ID';
    }
  }

  /** Sends REFUSED, logs (at most a line per peer every LIMIT_LOG_MS) and closes the connection. */
  private refuse(conn: FramedConnection, peer: PeerIdentity, reason: string, clientId?: string): void {
    this.limitHit(`refused ${peer.key}`, reason, `${peer.address} (${peer.key})${clientId ? ` client ${String(shortId(clientId))}` : ''}`);
    conn.send({ kind: 'refused', error: { code: 'PFS_ERR_RPC_REFUSED', message: `the volume server refused this connection: ${reason}` } });
    conn.end(reason);
  }

  private attach(clientId: string, peer: PeerIdentity, conn: FramedConnection): ClientState {
    const owner = peer.key;
    let client = this.clients.get(clientId);
    if (!client) {
      client = { clientId, owner, actsAs: undefined, peerVolumes: undefined, cache: new ClientReplyCache(this.limits.replyCacheBytesPerClient), conn: undefined, lastSeenMs: 0 };
      this.clients.set(clientId, client);
    }
    client.peerVolumes = peer.volumes;
    const old = client.conn;
    client.conn = conn;
    client.lastSeenMs = performance.now();
    if (old && old !== conn) {
      this.opts.log.info({ clientId: shortId(clientId), remote: old.remote }, 'rpc client reconnected, closing its previous connection');
      old.destroy('replaced by a newer connection');
    }
    conn.send({ kind: 'hello-ok', serverId: this.serverId });
    const cert = peer.certName === undefined ? {} : { certName: peer.certName, certFingerprint: peer.fingerprint, volumes: peer.volumes };
    this.opts.log.info({ clientId: shortId(clientId), peer: owner, remote: conn.remote, ...cert }, 'rpc client connected');
    this.notifyConnection(clientId, true);
    return client;
  }

  private onRequest(client: ClientState, frame: RequestFrame): void {
    const { clientId, cache } = client;
    const { id } = frame;
    const now = performance.now();
    client.lastSeenMs = now;
    if (cache.acknowledge(frame.ack)) this.trimDurable(clientId, frame.ack);
    cache.expire(now, this.opts.replyCacheTtlMs);
    if (this.closing) return; // the client resends to the next server
    if (id <= cache.ack) {
      this.rateLimitedWarn(`acked ${clientId}`, { clientId: shortId(clientId), requestId: id, ack: cache.ack }, 'rpc request already acknowledged, not executed');
      this.send(client, id, { error: { code: 'PFS_ERR_RPC_PROTOCOL', message: `request ${id} was already acknowledged` } });
      return;
    }
    const hit = cache.lookup(id);
    if (hit.state === 'in-flight') return; // answered when the original completes
    if (hit.state === 'done') {
      this.send(client, id, hit.reply);
      return;
    }
    let durable: WireReply | undefined;
    try {
      durable = this.dispatcher.durableReplies?.get(clientId, id);
    } catch (err) {
      this.opts.log.error({ clientId: shortId(clientId), requestId: id, method: frame.method, err: (err as Error)?.message }, 'rpc durable reply lookup failed');
      this.send(client, id, { error: toWireError(err) });
      return;
    }
    if (durable) {
      this.complete(client, id, frame.method, normalizeReply(durable));
      return;
    }
    cache.begin(id);
    if (cache.inFlightCount >= MAX_IN_FLIGHT && client.conn && !client.heldConn) {
      client.heldConn = client.conn;
      client.conn.hold();
    }
    this.batcher.push({
      call: { clientId, peer: client.owner, actsAs: client.actsAs, peerVolumes: client.peerVolumes, requestId: id, method: frame.method, params: frame.params },
      done: (reply) => this.complete(client, id, frame.method, reply),
    });
  }

  /** Encodes a completed reply, caches it and sends it to the client's current connection. */
  private complete(client: ClientState, id: number, method: string, reply: WireReply): void {
    let bytes: Buffer;
    let problem: WireError | undefined;
    try {
      bytes = encodeFrame({ kind: 'reply', id, reply });
      if (bytes.length - FRAME_HEADER_BYTES > this.opts.maxFrameBytes) {
        problem = { code: 'PFS_ERR_RPC_PROTOCOL', message: `reply to ${method} is ${bytes.length} bytes, over maxFrameBytes` };
      }
    } catch (err) {
      problem = { code: 'PFS_ERR_INTERNAL', message: `reply to ${method} is not serialisable: ${(err as Error).message}` };
    }
    if (problem) {
      this.opts.log.error({ clientId: shortId(client.clientId), requestId: id, method, reason: problem.message }, 'rpc reply replaced by an error');
      reply = { error: problem };
      bytes = encodeFrame({ kind: 'reply', id, reply });
    }
    client.cache.complete(id, reply, performance.now(), bytes!.length);
    client.conn?.sendBytes(bytes!);
    if (client.heldConn && client.cache.inFlightCount <= MAX_IN_FLIGHT / 2) {
      const held = client.heldConn;
      client.heldConn = undefined;
      held.release();
    }
  }

  private send(client: ClientState, id: number, reply: WireReply): void {
    client.conn?.send({ kind: 'reply', id, reply });
  }

  private trimDurable(clientId: string, ack: number): void {
    try {
      this.dispatcher.durableReplies?.trim(clientId, ack);
    } catch (err) {
      this.opts.log.error({ clientId: shortId(clientId), ack, err: (err as Error)?.message }, 'rpc durable reply trim failed');
    }
  }

  private notifyConnection(clientId: string, connected: boolean): void {
    try {
      this.dispatcher.onClientConnection?.(clientId, connected);
    } catch (err) {
      this.opts.log.error({ clientId: shortId(clientId), connected, err: (err as Error)?.message }, 'rpc onClientConnection failed');
    }
  }

  private sweep(): void {
    const now = performance.now();
    const ttl = this.opts.replyCacheTtlMs;
    for (const [id, client] of this.clients) {
      client.cache.expire(now, ttl);
      if (!client.conn && client.cache.isEmpty && now - client.lastSeenMs > ttl) this.clients.delete(id);
    }
  }
}
