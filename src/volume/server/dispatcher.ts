/**
 * Turns batches of RPC calls into metadata transactions (group commit).
 *
 * For one batch: every volume the batch touches gets one transaction; each call runs in a
 * savepoint of it (a failing call rolls back only its own changes); the reply of every
 * mutating call is written to rpc_replies in the same transaction; then each volume commits
 * once (one fsync) and only then are the replies released to the clients. So an acknowledged
 * change is durable, and a request resent after a reconnect or a server restart is answered
 * from rpc_replies instead of running again.
 */
import { PfsError, toWireError, errorCode, isFsErrorCode } from '../../common/errors/index.js';
import { isMethod, MUTATING, validateParams, type Method } from '../../common/protocol/index.js';
import type { Clock } from '../../common/clock/index.js';
import type { IncomingCall, Logger, RpcDispatcher, WireReply } from '../../common/rpc/index.js';
import { handlers } from './handlers.js';
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
    if (call.method === 'Mount') {
      const v = volumes.get(params.volume as string);
      if (!v) throw new PfsError('PFS_ERR_UNKNOWN_VOLUME', `no volume named ${JSON.stringify(params.volume)} is served here (served: ${[...volumes.keys()].join(', ')})`);
      return v;
    }
    return mounts.volumeOf(params.mountId as string);
  }

  function runOne(call: IncomingCall, open: (v: Volume) => void): WireReply {
    let method: Method | undefined;
    try {
      if (!isMethod(call.method)) throw new PfsError('PFS_ERR_UNKNOWN_METHOD', `unknown method ${JSON.stringify(String(call.method).slice(0, 64))}`);
      method = call.method;
      validateParams(method, call.params);
      if (method === 'Ping') return { result: { serverTime: clock.now() } };
      const volume = volumeOf(call)!;
      open(volume);
      const handler = handlers[method] as (p: unknown, ctx: object) => unknown;
      const ctx = { clientId: call.clientId, volume, mounts, clock };
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
      const out: WireReply[] = [];
      try {
        for (const call of calls) {
          const callStarted = performance.now();
          const reply = runOne(call, open);
          // Unknown method names come from the network: one label value for all of them.
          const method = isMethod(call.method) ? call.method : 'unknown';
          opts.observer?.onCall(method, (performance.now() - callStarted) / 1000, 'error' in reply ? reply.error.code : undefined);
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
  };
}
