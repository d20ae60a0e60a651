/**
 * RPC between pfsagentd and proxyfsd: framed JSON over TCP or TLS with exactly-once execution.
 *
 * Parts (one pipeline per side):
 *   frame.ts       8-byte header (magic 'PF', version, type, length) + JSON body; streaming decoder
 *   connection.ts  socket -> frames; PING/PONG keepalive, idle drop, protocol errors close the socket
 *   client.ts      numbered requests, deadlines, reconnect with backoff, resend of outstanding requests
 *   ack-tracker.ts highest id below which every request is finished (sent with every request)
 *   peer.ts        who is at the other end of a socket (the uid owning a loopback peer's socket)
 *   peer-cert.ts   ... or the agent named by its TLS client certificate, and the volumes it may use
 *   server.ts      peer check before HELLO, HELLO by clientId (bound to its peer), dedup (in-flight, cache, durable), upcalls
 *   batcher.ts     group commit: queued calls dispatched as one batch; batches never overlap;
 *                  a deferred reply (a promise) answers its call later without holding up the next batch
 *   reply-cache.ts per-client in-flight set and completed replies, trimmed by ack and TTL
 *
 * Invariants:
 * - A request (clientId, requestId) is dispatched at most once while the server remembers it:
 *   in-flight -> memory cache -> dispatcher.durableReplies -> dispatch, in that order.
 * - Batches never overlap; each batch holds every request that arrived before it started.
 * - A reply goes to the client's connection current when it completes, or waits for a resend.
 * - Bad bytes from a peer close that connection only (logged with log.warn); nothing a peer
 *   sends throws out of a socket callback.
 * - The client's ack never covers a request it still waits for; abandoned requests (deadline,
 *   close) count as finished, and late replies for them are ignored.
 * - Logs carry method names and ids, never params or results.
 * - Request ids are per RpcClient instance. A clientId must never be reused by a new client that
 *   restarts numbering at 1 while a server may still hold replies for the old one (the default
 *   clientId is random for this reason).
 * - Both ends should use the same maxFrameBytes: an oversize frame closes the connection, and the
 *   resend would be refused again until the call's deadline.
 */
export type {
  DispatchReply,
  IncomingCall,
  Logger,
  RpcClient,
  RpcClientHooks,
  RpcClientOptions,
  RpcDispatcher,
  RpcServer,
  RpcServerOptions,
  PeerPolicy,
  ActsAs,
  ServerLimits,
  WireReply,
} from './types.js';
export { DEFAULT_SERVER_LIMITS } from './types.js';
export { identifyPeer, isLoopback, parseSocketTable, userGroups, type PeerIdentity } from './peer.js';
export { AGENT_NAME, describeAgentCert, volumeUri, VOLUME_URI_SCHEME } from './peer-cert.js';
export { readPemFile, readPrivateKeyFile } from './tls-files.js';
export { createRpcServer } from './server.js';
export { createRpcClient } from './client.js';
export {
  decodeFrames,
  encodeFrame,
  encodeRawFrame,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  FrameDecoder,
  FrameType,
  PROTOCOL_VERSION,
  type DecodeResult,
  type Frame,
  type FrameKind,
} from './frame.js';
