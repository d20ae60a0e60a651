/** Public types of the RPC layer (implementation in this folder; see index.ts). */
import type { Logger } from '../log/index.js';
import type { WireError } from '../errors/index.js';
import type { PeerIdentity } from './peer.js';

/** A reply as the server caches and sends it. */
export type WireReply = { result: unknown } | { error: WireError };

/**
 * What a dispatcher returns for one call: the reply, or a promise of it (a deferred reply, for
 * calls that wait, such as a blocking lock). A deferred reply does not hold up the batch: the
 * next batch is dispatched at once, and the call is answered when the promise settles (a
 * rejection becomes an error reply). A deferred reply never settled is never sent; the client
 * resends it to the next server.
 */
export type DispatchReply = WireReply | Promise<WireReply>;

/** One request as the server hands it to its dispatcher. */
export interface IncomingCall {
  clientId: string;     // stable for the life of an RpcClient, across reconnects
  peer: string;         // the key of the authenticated peer whose connection carried it (peer.ts)
  /** Set when the peer may act only as one user (a local agent of a non-root uid): the dispatcher checks every cred against it. */
  actsAs?: ActsAs;
  peerVolumes?: readonly string[]; // a certificate peer: the only volumes it may use; undefined: any
  requestId: number;    // 1, 2, 3 ... per client
  method: string;       // not validated by the RPC layer
  params: unknown;      // not validated by the RPC layer
}

/**
 * The server's application side.
 * - dispatch receives every request that is not already answered (from the in-memory cache or
 *   durableReplies), in arrival order, batched: all requests that arrived before the event loop
 *   turned. It returns one reply per call, same order. It may be async; batches do not overlap
 *   (the next batch is dispatched after the previous one resolved), which lets the dispatcher
 *   commit a whole batch in one database transaction (group commit). A reply may be deferred
 *   (see DispatchReply): such a call is answered later without holding up later batches.
 * - durableReplies, when given, is consulted on a cache miss before dispatching, and told when the
 *   client has acknowledged replies so it can trim them.
 */
export interface RpcDispatcher {
  dispatch(calls: IncomingCall[]): Promise<DispatchReply[]> | DispatchReply[];
  durableReplies?: {
    get(clientId: string, requestId: number): WireReply | undefined;
    /** The client has received every reply with requestId <= ackedUpTo. */
    trim(clientId: string, ackedUpTo: number): void;
  };
  /** A client's connection came (connected=true) or went (connected=false). */
  onClientConnection?(clientId: string, connected: boolean): void;
  /**
   * A HELLO from peer for clientId: the reason to refuse it (clientId is bound to another peer,
   * e.g. by a durable mount), or undefined to serve it.
   */
  clientRefusal?(clientId: string, peer: string): string | undefined;
}

export interface ServerLimits {
  /** Connections open at once, identified or not; more are closed at once. */
  maxConnections: number;
  /** Connections of one peer (uid, or all unauthenticated peers together). */
  maxConnectionsPerPeer: number;
  /** A frame must arrive whole within this of its first byte. */
  frameDeadlineMs: number;
  /** A connection must say HELLO within this. */
  helloTimeoutMs: number;
  /** Bytes of frames over 1 MiB being received at once, all connections together. */
  bigFrameBudgetBytes: number;
  /** Completed replies kept in memory per client ID (the oldest go first; mutating calls' replies stay in the database). */
  replyCacheBytesPerClient: number;
  /** A connection whose peer does not read its replies is not read from while this much waits to be sent. */
  maxSendBufferBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxConnections: 1024,
  maxConnectionsPerPeer: 64,
  frameDeadlineMs: 30_000,
  helloTimeoutMs: 10_000,
  bigFrameBudgetBytes: 256 << 20,
  replyCacheBytesPerClient: 64 << 20,
  maxSendBufferBytes: 64 << 20,
};

/** Which authenticated peers a server serves (docs/SECURITY.md §2). */
/** The one user a restricted peer may act as: its uid and the groups the user database gives it. */
export interface ActsAs {
  uid: number;
  gids: readonly number[];
}

export interface PeerPolicy {
  /** Loopback peers whose socket belongs to one of these uids. */
  allowedUids: readonly number[];
  /** Peers nobody vouches for (another host over plain TCP or TLS without a client certificate): served only when true. Certificate peers are always served. */
  allowUnauthenticated: boolean;
}

export interface RpcServerOptions {
  host: string;
  port: number;                 // 0 = pick a free port (see RpcServer.port)
  /**
   * TLS. With clientCaPem the server asks for a client certificate: a peer that presents one
   * that verifies against clientCaPem is identified by it (peer-cert.ts), one that presents
   * another is refused, one that presents none is identified as without TLS.
   */
  tls?: { certPem: string | Buffer; keyPem: string | Buffer; clientCaPem?: string | Buffer };
  keepAliveMs: number;          // TCP keepalive and application ping interval; idle peers dropped after 2x
  replyCacheTtlMs: number;      // completed replies kept at most this long even if never acknowledged
  maxFrameBytes: number;        // larger frames close the connection
  log: Logger;
  /** Default: root and this process's own uid on loopback, nothing else. */
  peers?: PeerPolicy;
  /** Bounds on what peers can make the server hold (docs/SECURITY.md §6); each defaults to DEFAULT_SERVER_LIMITS. */
  limits?: Partial<ServerLimits>;
  /** Who a socket's peer is (tests inject one); default peer.ts identifyPeer. */
  identifyPeer?: (socket: import('node:net').Socket) => Promise<PeerIdentity>;
}

export interface RpcServer {
  readonly port: number;
  /** Best-effort one-way message to a client's current connection; false if it has none. */
  upcall(clientId: string, method: string, params: unknown): boolean;
  connectedClients(): string[];
  /** Stops accepting, closes connections after in-flight batches finish. */
  close(): Promise<void>;
}

export interface RpcClientOptions {
  host: string;
  port: number;
  /** TLS: the CA that signed the server's certificate; certPem and keyPem, when given, are this client's certificate (mutual TLS). */
  tls?: { caPem: string | Buffer; serverName?: string; certPem?: string | Buffer; keyPem?: string | Buffer };
  deadlineMs: number;           // per call: no reply within this -> PFS_ERR_RPC_DEADLINE
  keepAliveMs: number;
  reconnectDelayMs: number;     // first backoff step; doubles up to reconnectDelayCapMs
  reconnectDelayCapMs: number;
  maxFrameBytes: number;
  log: Logger;
  clientId?: string;            // default: random 128-bit hex
  hooks?: RpcClientHooks;       // metrics; default: none
}

/** Observation points of the client (metrics). Called synchronously; must not throw. */
export interface RpcClientHooks {
  /** A call ended: its reply arrived (code: the error's code, undefined on success), its deadline passed or the client closed. */
  onCallDone?(method: string, seconds: number, code: string | undefined): void;
  /** An outstanding call was sent again on a new connection. */
  onResend?(method: string): void;
  /** A connection was greeted after an earlier one was lost. */
  onReconnect?(): void;
  /** A call's deadline passed without a reply. */
  onDeadline?(method: string): void;
}

export interface RpcClient {
  readonly clientId: string;
  /** Sends once, resends after reconnects, resolves with the result or rejects with the typed error. */
  call(method: string, params: unknown, opts?: { deadlineMs?: number }): Promise<unknown>;
  onUpcall(handler: (method: string, params: unknown) => void): void;
  /**
   * The client reconnected to a different server instance (a new serverId in HELLO_OK: the
   * server restarted). Called synchronously before the outstanding requests are resent, so a
   * call made in the handler reaches the new server ahead of them.
   */
  onServerChange(handler: (serverId: string) => void): void;
  /** Resolves once connected and greeted (or rejects after deadlineMs). */
  connected(deadlineMs?: number): Promise<void>;
  /** Fails outstanding calls with PFS_ERR_RPC_CLOSED after waiting up to drainMs for them. */
  close(drainMs?: number): Promise<void>;
}

export type { Logger };
