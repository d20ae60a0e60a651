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
 * Object-store tokens (docs/SECURITY.md §4.1, mount-tokens.ts): on a volume that checks them,
 * every call of a mount but RenewMount and Unmount passes tokens.check() first (no waiting). A
 * Mount whose token must be tried against the store is answered later: after the check it runs
 * alone, in a transaction of its own that also stores its reply. RenewMount and DescribeVolume
 * touch no metadata and are answered outside any transaction.
 */
import { FsError, PfsError, toWireError, errorCode, isFsErrorCode } from '../../common/errors/index.js';
import { BLOCKING, isMethod, MUTATING, validateParams, type Cred, type Method } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { ActsAs, DispatchReply, IncomingCall, Logger, RpcDispatcher, WireReply } from '../../common/rpc/index.js';
import { handlers, type CallContext, type ServedApart } from './handlers.js';
import type { MountTokens, TokenCheckResult } from './mount-tokens.js';
import { blockingHandlers, type BlockingMethod } from './coordination.js';
import type { Mounts } from './mounts.js';
import type { Volume } from './volume.js';
import { createReplyStore } from './reply-store.js';

export interface DispatcherOptions {
  volumes: Map<string, Volume>;
  mounts: Mounts;
  tokens: MountTokens;
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
  /** One object-store token check that reached the store (docs/SECURITY.md §4.1). */
  onTokenCheck?(volume: string, result: TokenCheckResult): void;
}

export function createDispatcher(opts: DispatcherOptions): RpcDispatcher {
  const { volumes, mounts, tokens, clock, log } = opts;
  const replies = createReplyStore([...volumes.values()], clock, opts.replyTtlMs);

  function volumeOf(call: IncomingCall): Volume | undefined {
    const params = call.params as Record<string, unknown>;
    if (call.method === 'Ping') return undefined;
    if (call.method !== 'Mount' && call.method !== 'DescribeVolume') return authorized(call, mounts.volumeOf(params.mountId as string, call.clientId));
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
      if (method === 'DescribeVolume') return { result: { objectStoreUrl: volume.settings.objectStoreUrl, authTokenRequired: tokens.required(volume) } };
      const ctx: CallContext = { clientId: call.clientId, peer: call.peer, volume, mounts, tokens, clock, replyCacheTtlMs: opts.replyTtlMs, changedDirs: [] };
      if (method === 'RenewMount') return renewMount(call, volume);
      if (method === 'Mount') {
        const token = (call.params as { authToken?: string }).authToken;
        if (tokens.required(volume)) {
          if (token === undefined) throw new PfsError('PFS_ERR_AUTH_TOKEN_REJECTED', `volume ${volume.name} checks object-store tokens: Mount needs an authToken (an agent too old to send one must be upgraded; docs/SECURITY.md §4.1)`);
          const admitted = tokens.admit(volume, token);
          if (admitted) return admitted.then((result) => mountAlone(call, ctx, token, result), (err: unknown) => failed(method!, call, err));
        }
        open(volume);
        const reply = execute('Mount', call, ctx);
        if (token !== undefined && tokens.required(volume) && 'result' in reply) tokens.set((reply.result as { mountId: string }).mountId, volume, token);
        return reply;
      }
      if (method !== 'Unmount') tokens.check((call.params as { mountId: string }).mountId, volume);
      open(volume);
      if (BLOCKING.has(method)) return runBlocking(method as BlockingMethod, call, ctx);
      return afterBreaks(call, ctx, execute(method, call, ctx));
    } catch (err) {
      if (errorCode(err) === undefined) logFailure(method, call, err);
      return { error: toWireError(err) };
    }
  }

  /** Runs a handler in a savepoint of the open transaction; a mutating call's reply is stored with it. */
  function execute(method: Method, call: IncomingCall, ctx: CallContext): WireReply {
    const handler = handlers[method as Exclude<Method, ServedApart | BlockingMethod>] as (p: unknown, ctx: object) => unknown;
    let reply: WireReply;
    try {
      reply = { result: ctx.volume.md.transaction(() => handler(call.params, ctx)) };
    } catch (err) {
      reply = { error: toWireError(err) };
      if (!isFsErrorCode(errorCode(err))) logFailure(method, call, err);
    }
    if (MUTATING.has(method)) replies.save(ctx.volume, call.clientId, call.requestId, reply);
    return reply;
  }

  /**
   * A change in directories (ctx.changedDirs) is answered once every other mount that held a
   * directory lease on them has dropped it (docs/LEASES.md §5), and, during a reclaim period,
   * once it is over: a mount from before the restart may still show the old names until it has
   * reconnected, dropped its directory leases and claimed. The change is committed with its batch
   * meanwhile; a resend of the call waits for the same answer (common/rpc: in flight).
   */
  function afterBreaks(call: IncomingCall, ctx: CallContext, reply: WireReply): DispatchReply {
    if (ctx.changedDirs.length === 0 || !('result' in reply)) return reply;
    const mountId = (call.params as { mountId: string }).mountId;
    const broken = ctx.volume.dirLeases.break(mountId, ctx.changedDirs);
    const reclaimed = ctx.volume.reclaim.ended();
    if (!broken && !reclaimed) return reply;
    return Promise.all([broken, reclaimed]).then(() => reply);
  }

  /** A Mount whose token was just tried: runs in a transaction of its own (no batch is open now). */
  function mountAlone(call: IncomingCall, ctx: CallContext, token: string, result: TokenCheckResult): WireReply {
    try {
      const reply = ctx.volume.md.transaction(() => execute('Mount', call, ctx));
      if ('result' in reply) tokens.set((reply.result as { mountId: string }).mountId, ctx.volume, token, result);
      return reply;
    } catch (err) {
      return failed('Mount', call, err);
    }
  }

  function renewMount(call: IncomingCall, volume: Volume): DispatchReply {
    const { mountId, authToken } = call.params as { mountId: string; authToken: string };
    if (!tokens.required(volume)) return { result: {} };
    const renewed = tokens.renew(mountId, volume, authToken);
    return renewed ? renewed.then(() => ({ result: {} }), (err: unknown) => failed('RenewMount', call, err)) : { result: {} };
  }

  function failed(method: Method, call: IncomingCall, err: unknown): WireReply {
    if (!isFsErrorCode(errorCode(err))) logFailure(method, call, err);
    return { error: toWireError(err) };
  }

  /** Runs a blocking handler's synchronous part now; its promise, if any, becomes a deferred reply. */
  function runBlocking(method: BlockingMethod, call: IncomingCall, ctx: object): DispatchReply {
    let out: unknown;
    try {
      out = (blockingHandlers[method] as (p: unknown, ctx: object) => unknown)(call.params, ctx);
    } catch (err) {
      return failed(method, call, err);
    }
    return out instanceof Promise ? out.then((result: unknown) => ({ result }), (err: unknown) => failed(method, call, err)) : { result: out };
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
