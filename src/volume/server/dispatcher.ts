/**
 * Turns batches of RPC calls into metadata transactions (group commit).
 *
 * For one batch: every volume the batch touches gets one transaction; each call runs in a
 * savepoint of it (a failing call rolls back only its own changes); the reply of every
 * mutating call is written to rpc_replies in the same transaction; then each volume commits
 * once (one fsync) and only then are the replies released to the clients. So an acknowledged
 * change is durable, and a request resent after a reconnect or a server restart is answered
 * from rpc_replies instead of running again.
 *
 * A mount ID is usable only by the client ID that made it (others get PFS_ERR_UNKNOWN_MOUNT), and
 * that client ID only by the authenticated peer that made the mount (mounts.clientRefusal, asked
 * by the RPC server at HELLO). A call from a restricted peer (IncomingCall.actsAs: a local agent
 * of a non-root uid) must carry credentials of that user only (checkActsAs), else EACCES. A peer identified by an agent certificate reaches only the volumes
 * its certificate names (Mount of another, or any call on a mount of one, fails with
 * PFS_ERR_VOLUME_NOT_AUTHORIZED).
 * Before anything else, a request naming an evicted mount is refused (PFS_ERR_MOUNT_EVICTED):
 * the fence of docs/LEASES.md §3. Blocking methods (Lease, Lock, GetLock: protocol BLOCKING) run their
 * checks in the batch like any call, but their answer may be a promise: the batch commits and
 * the next one runs while they wait (a deferred reply, see common/rpc DispatchReply). They
 * change no metadata and store no reply row; a grant made during a batch reaches its client
 * only after that batch committed (promise callbacks run after the synchronous dispatch).
 */
import { FsError, PfsError, toWireError, errorCode, isFsErrorCode } from '../../common/errors/index.js';
import { BLOCKING, isMethod, MUTATING, validateParams, type Cred, type Method } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { ActsAs, DispatchReply, IncomingCall, Logger, RpcDispatcher, WireReply } from '../../common/rpc/index.js';
import { handlers } from './handlers.js';
import { blockingHandlers, type BlockingMethod } from './coordination.js';
import type { Mounts } from './mounts.js';
import type { Volume } from './volume.js';
import { createReplyStore } from './reply-store.js';

export interface DispatcherOptions {
  volumes: Map<string, Volume>;
  mounts: Mounts;
  clock: Clock;
  log: Logger;
  replyTtlMs: number;
  /** Metrics (common/metrics' VolumeMetrics.dispatch has this shape); default none. */
  observer?: DispatchObserver;
}

export interface DispatchObserver {
  /** One call executed in `seconds` (its savepoint, not the commit); code is the error code when it failed. */
  onCall(method: string, seconds: number, code: string | undefined): void;
  /** One batch of `calls` requests executed and committed in `seconds`, with `commits` transactions. */
  onBatch(calls: number, seconds: number, commits: number): void;
}

export function createDispatcher(opts: DispatcherOptions): RpcDispatcher {
  const { volumes, mounts, clock, log } = opts;
  const replies = createReplyStore([...volumes.values()], clock, opts.replyTtlMs);

  function volumeOf(call: IncomingCall): Volume | undefined {
    const params = call.params as Record<string, unknown>;
    if (call.method === 'Ping') return undefined;
    if (call.method !== 'Mount') return authorized(call, mounts.volumeOf(params.mountId as string, call.clientId));
    const v = volumes.get(params.volume as string);
    if (!v) throw new PfsError('PFS_ERR_UNKNOWN_VOLUME', `no volume named ${JSON.stringify(params.volume)} is served here (served: ${[...volumes.keys()].join(', ')})`);
    return authorized(call, v);
  }

  /** v, when the call's peer may use it: a certificate peer only the volumes its certificate names. */
  function authorized(call: IncomingCall, v: Volume): Volume {
    if (call.peerVolumes && !call.peerVolumes.includes(v.name)) {
      throw new PfsError('PFS_ERR_VOLUME_NOT_AUTHORIZED', `the certificate of agent ${call.peer.replace(/^cert:/, '')} does not authorise volume ${JSON.stringify(v.name)} ` +
        `(it names ${call.peerVolumes.map((n) => JSON.stringify(n)).join(', ')}); issue it one that does (pfs ca issue-agent --volume ${v.name})`);
    }
    return v;
  }

  function runOne(call: IncomingCall, open: (v: Volume) => void): DispatchReply {
    let method: Method | undefined;
    try {
      if (!isMethod(call.method)) throw new PfsError('PFS_ERR_UNKNOWN_METHOD', `unknown method ${JSON.stringify(String(call.method).slice(0, 64))}`);
      method = call.method;
      if (typeof call.params === 'object' && call.params !== null) mounts.fence((call.params as Record<string, unknown>).mountId, call.clientId);
      validateParams(method, call.params);
      if (call.actsAs) checkActsAs(call.actsAs, (call.params as { cred?: Cred }).cred);
      if (method === 'Ping') return { result: { serverTime: clock.now() } };
      const volume = volumeOf(call)!;
      open(volume);
      const ctx = { clientId: call.clientId, peer: call.peer, volume, mounts, clock, replyCacheTtlMs: opts.replyTtlMs };
      if (BLOCKING.has(method)) return runBlocking(method as BlockingMethod, call, ctx);
      const handler = handlers[method as Exclude<Method, 'Ping' | BlockingMethod>] as (p: unknown, ctx: object) => unknown;
      let reply: WireReply;
      try {
        reply = { result: volume.md.transaction(() => handler(call.params, ctx)) };
      } catch (err) {
        reply = { error: toWireError(err) };
        if (!isFsErrorCode(errorCode(err))) logFailure(method, call, err);
      }
      if (MUTATING.has(method)) replies.save(volume, call.clientId, call.requestId, reply);
      return reply;
    } catch (err) {
      if (errorCode(err) === undefined) logFailure(method, call, err);
      return { error: toWireError(err) };
    }
  }

  /** Runs a blocking handler's synchronous part now; its promise, if any, becomes a deferred reply. */
  function runBlocking(method: BlockingMethod, call: IncomingCall, ctx: object): DispatchReply {
    const failed = (err: unknown): WireReply => {
      if (!isFsErrorCode(errorCode(err))) logFailure(method, call, err);
      return { error: toWireError(err) };
    };
    let out: unknown;
    try {
      out = (blockingHandlers[method] as (p: unknown, ctx: object) => unknown)(call.params, ctx);
    } catch (err) {
      return failed(err);
    }
    return out instanceof Promise ? out.then((result: unknown) => ({ result }), failed) : { result: out };
  }

  function logFailure(method: string | undefined, call: IncomingCall, err: unknown): void {
    const code = errorCode(err);
    const level = code === undefined || code === 'PFS_ERR_INTERNAL' ? 'error' : 'debug';
    log[level]({ method: method ?? '?', clientId: call.clientId, requestId: call.requestId, err: (err as Error)?.stack ?? String(err) }, 'RPC failed');
  }

  return {
    dispatch(calls) {
      const started = performance.now();
      const opened = new Set<Volume>();
      const open = (v: Volume) => {
        if (opened.has(v)) return;
        v.md.db.exec('BEGIN IMMEDIATE');
        opened.add(v);
        replies.trimPending(v);
      };
      const out: DispatchReply[] = [];
      try {
        for (const call of calls) {
          const callStarted = performance.now();
          const reply = runOne(call, open);
          // Unknown method names come from the network: one label value for all of them.
          const method = isMethod(call.method) ? call.method : 'unknown';
          opts.observer?.onCall(method, (performance.now() - callStarted) / 1000, !(reply instanceof Promise) && 'error' in reply ? reply.error.code : undefined);
          out.push(reply);
        }
        for (const v of opened) v.md.db.exec('COMMIT');
      } catch (err) {
        // A failed COMMIT (disk error, database corrupt) must not be acknowledged.
        for (const v of opened) if (v.md.db.inTransaction) v.md.db.exec('ROLLBACK');
        log.error({ err: (err as Error).stack }, 'metadata commit failed');
        throw err;
      }
      opts.observer?.onBatch(calls.length, (performance.now() - started) / 1000, opened.size);
      return out;
    },
    durableReplies: {
      get: (clientId, requestId) => replies.get(clientId, requestId),
      trim: (clientId, ackedUpTo) => replies.ack(clientId, ackedUpTo),
    },
    onClientConnection: (clientId, connected) => mounts.onClientConnection(clientId, connected),
    clientRefusal: (clientId, peer) => mounts.clientRefusal(clientId, peer),
  };
}

/**
 * A restricted peer (a local agent of a non-root uid, docs/SECURITY.md §4) acts only as its own
 * user: the credentials a call carries must name that uid and only groups the user has.
 */
function checkActsAs(actsAs: ActsAs, cred: Cred | undefined): void {
  if (cred === undefined) return;
  if (cred.uid !== actsAs.uid) throw new FsError('EACCES', `this agent runs as uid ${actsAs.uid} and may act only as that user, not as uid ${cred.uid}`);
  for (const g of [cred.gid, ...cred.groups]) {
    if (!actsAs.gids.includes(g)) throw new FsError('EACCES', `this agent runs as uid ${actsAs.uid}, which is not in group ${g}`);
  }
}
