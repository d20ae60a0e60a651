/**
 * RPC client: numbered requests, per-call deadlines, reconnect with backoff and resend of every
 * outstanding request after each HELLO_OK. The server dedups by clientId + requestId, so a
 * resend never executes twice (within the server's reply cache and durable replies).
 * Invariants: a request stays in `outstanding` until its reply, its deadline or close(); the ack
 * sent with each request never covers an id still in `outstanding`.
 * A REFUSED frame (the server does not serve this peer or this clientId, docs/SECURITY.md) fails
 * every outstanding call and waiter at once with its error (PFS_ERR_RPC_REFUSED), and every call
 * made until a later connection is greeted; reconnecting goes on with backoff, so a server whose
 * configuration is fixed is reached again.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { fromWireError, PfsError } from '../errors/index.js';
import { AckTracker } from './ack-tracker.js';
import { FramedConnection } from './connection.js';
import { encodeRequestFrame, isValidClientId, PROTOCOL_VERSION, type Frame } from './frame.js';
import type { RpcClient, RpcClientOptions, WireReply } from './types.js';

interface Outstanding {
  readonly id: number;
  readonly method: string;
  readonly paramsJson: string;
  readonly startMs: number;
  readonly timer: NodeJS.Timeout;
  /** Times sent (a send after a reconnect is a resend). */
  sends: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/** Bytes of a request body besides method and params: braces, keys, two integers. */
const REQUEST_OVERHEAD_BYTES = 80;

export function createRpcClient(opts: RpcClientOptions): RpcClient {
  return new Client(opts);
}

class Client implements RpcClient {
  readonly clientId: string;
  private nextId = 1;
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly acks = new AckTracker();
  private readonly upcallHandlers: ((method: string, params: unknown) => void)[] = [];
  private readonly serverChangeHandlers: ((serverId: string) => void)[] = [];
  private serverId: string | undefined;
  private readonly waiters = new Set<Waiter>();
  private conn: FramedConnection | undefined;
  private ready = false;
  private started = false;
  private attempt = 0;
  private greeted = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;
  /** The last REFUSED frame's error, until a connection is greeted. */
  private refusal: PfsError | undefined;

  constructor(private readonly opts: RpcClientOptions) {
    this.clientId = opts.clientId ?? randomBytes(16).toString('hex');
    if (!isValidClientId(this.clientId)) {
      throw new PfsError('PFS_ERR_CONFIG', 'rpc clientId must be 1-128 characters of [A-Za-z0-9_.:-]');
    }
  }

  call(method: string, params: unknown, callOpts?: { deadlineMs?: number }): Promise<unknown> {
    if (this.closing) return Promise.reject(new PfsError('PFS_ERR_RPC_CLOSED', `rpc client is closed; ${method} not sent`));
    let paramsJson: string;
    try {
      paramsJson = JSON.stringify(params ?? null) ?? 'null';
    } catch (err) {
      return Promise.reject(new PfsError('PFS_ERR_BAD_REQUEST', `${method} params are not serialisable: ${(err as Error).message}`));
    }
    const sizeBytes = Buffer.byteLength(paramsJson) + Buffer.byteLength(JSON.stringify(method)) + REQUEST_OVERHEAD_BYTES;
    if (sizeBytes > this.opts.maxFrameBytes) {
      return Promise.reject(new PfsError('PFS_ERR_BAD_REQUEST', `${method} request of ~${sizeBytes} bytes exceeds maxFrameBytes`));
    }
    if (this.refusal) {
      this.start();
      return Promise.reject(this.refusal);
    }
    const id = this.nextId++;
    const deadlineMs = callOpts?.deadlineMs ?? this.opts.deadlineMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), deadlineMs);
      const req: Outstanding = { id, method, paramsJson, startMs: performance.now(), timer, sends: 0, resolve, reject };
      this.outstanding.set(id, req);
      this.start();
      if (this.ready) this.sendRequest(req);
    });
  }

  onUpcall(handler: (method: string, params: unknown) => void): void {
    this.upcallHandlers.push(handler);
  }

  onServerChange(handler: (serverId: string) => void): void {
    this.serverChangeHandlers.push(handler);
  }

  connected(deadlineMs = this.opts.deadlineMs): Promise<void> {
    if (this.closing) return Promise.reject(new PfsError('PFS_ERR_RPC_CLOSED', 'rpc client is closed'));
    if (this.ready) return Promise.resolve();
    if (this.refusal) return Promise.reject(this.refusal);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new PfsError('PFS_ERR_RPC_DEADLINE', `not connected to ${this.target} within ${deadlineMs} ms`));
      }, deadlineMs);
      const waiter: Waiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      this.waiters.add(waiter);
      this.start();
    });
  }

  close(drainMs = 0): Promise<void> {
    this.closePromise ??= this.shutdown(drainMs);
    return this.closePromise;
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.closing = true;
    if (this.outstanding.size > 0 && drainMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.onDrained = () => { clearTimeout(timer); resolve(); };
      });
    }
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const req of this.outstanding.values()) {
      clearTimeout(req.timer);
      this.acks.finish(req.id);
      this.done(req, 'PFS_ERR_RPC_CLOSED');
      req.reject(new PfsError('PFS_ERR_RPC_CLOSED', `rpc client closed before ${req.method} (request ${req.id}) got a reply; it may or may not have been executed`));
    }
    this.outstanding.clear();
    for (const w of this.waiters) w.reject(new PfsError('PFS_ERR_RPC_CLOSED', 'rpc client closed'));
    this.waiters.clear();
    const conn = this.conn;
    this.conn = undefined;
    this.ready = false;
    if (conn) {
      conn.destroy('client closed');
      await conn.whenClosed();
    }
  }

  private get target(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  private start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.connect();
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    const { host, port, tls: tlsOpts } = this.opts;
    const socket = tlsOpts
      ? tls.connect({ host, port, ca: tlsOpts.caPem, servername: tlsOpts.serverName, cert: tlsOpts.certPem, key: tlsOpts.keyPem })
      : net.connect({ host, port });
    const conn: FramedConnection = new FramedConnection(
      socket,
      {
        maxFrameBytes: this.opts.maxFrameBytes,
        keepAliveMs: this.opts.keepAliveMs,
        log: this.opts.log,
        logContext: { side: 'client', clientId: this.clientId, target: this.target },
      },
      { onFrame: (frame) => this.onFrame(conn, frame), onClose: (reason) => this.onClose(conn, reason) },
    );
    this.conn = conn;
    this.ready = false;
    conn.send({ kind: 'hello', clientId: this.clientId, version: PROTOCOL_VERSION });
  }

  private onFrame(conn: FramedConnection, frame: Frame): void {
    if (conn !== this.conn) return;
    if (frame.kind === 'hello-ok') {
      if (this.ready) return conn.protocolError('second hello-ok');
      this.onGreeted(frame.serverId);
    } else if (frame.kind === 'refused') {
      if (this.ready) return conn.protocolError('refused after hello-ok');
      this.onRefused(new PfsError('PFS_ERR_RPC_REFUSED', frame.error.message));
    } else if (frame.kind === 'reply' || frame.kind === 'upcall') {
      if (!this.ready) return conn.protocolError(`${frame.kind} before hello-ok`);
      if (frame.kind === 'reply') this.onReply(frame.id, frame.reply);
      else this.deliverUpcall(frame.method, frame.params);
    } else {
      conn.protocolError(`unexpected ${frame.kind} frame from the server`);
    }
  }

  /** Fails everything waiting now; the connection closes and is redialled as after any loss. */
  private onRefused(err: PfsError): void {
    if (!this.refusal) this.opts.log.error({ clientId: this.clientId, server: this.target, err: err.message }, 'rpc connection refused by the server');
    this.refusal = err;
    for (const req of [...this.outstanding.values()]) {
      this.finish(req);
      this.done(req, err.code);
      req.reject(err);
    }
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
  }

  private onGreeted(serverId: string): void {
    this.ready = true;
    this.refusal = undefined;
    this.attempt = 0;
    if (this.greeted) this.opts.hooks?.onReconnect?.();
    this.greeted = true;
    this.opts.log.info({ clientId: this.clientId, serverId, server: this.target, resent: this.outstanding.size }, 'rpc connected');
    const resend = [...this.outstanding.values()];
    const previous = this.serverId;
    this.serverId = serverId;
    if (previous !== undefined && previous !== serverId) {
      for (const h of this.serverChangeHandlers) {
        try {
          h(serverId);
        } catch (err) {
          this.opts.log.error({ err: (err as Error).message }, 'server-change handler failed');
        }
      }
    }
    for (const req of resend) this.sendRequest(req);
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
  }

  private onClose(conn: FramedConnection, reason: string): void {
    if (conn !== this.conn) return;
    const wasReady = this.ready;
    this.conn = undefined;
    this.ready = false;
    if (this.closed) return;
    const fields = { clientId: this.clientId, server: this.target, reason, outstanding: this.outstanding.size };
    if (wasReady) this.opts.log.info(fields, 'rpc connection lost, reconnecting');
    else if (this.attempt > 0 && this.attempt % 10 === 0) this.opts.log.warn({ ...fields, attempts: this.attempt }, 'rpc server still unreachable');
    else this.opts.log.debug(fields, 'rpc connect attempt failed');
    const baseMs = Math.min(this.opts.reconnectDelayCapMs, this.opts.reconnectDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const delayMs = Math.round(baseMs / 2 + (Math.random() * baseMs) / 2);
    this.opts.log.debug({ clientId: this.clientId, attempt: this.attempt, delayMs }, 'rpc reconnect scheduled');
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
    this.reconnectTimer.unref();
  }

  private sendRequest(req: Outstanding): void {
    if (req.sends++ > 0) this.opts.hooks?.onResend?.(req.method);
    this.conn?.sendBytes(encodeRequestFrame(req.id, this.acks.ack, req.method, req.paramsJson));
  }

  private onReply(id: number, reply: WireReply): void {
    const req = this.outstanding.get(id);
    if (!req) {
      this.opts.log.debug({ clientId: this.clientId, requestId: id }, 'rpc reply for an unknown request ignored');
      return;
    }
    this.finish(req);
    this.done(req, 'error' in reply ? reply.error.code : undefined);
    if ('error' in reply) req.reject(fromWireError(reply.error));
    else req.resolve(reply.result);
  }

  private expire(id: number): void {
    const req = this.outstanding.get(id);
    if (!req) return;
    this.finish(req);
    const elapsedMs = Math.round(performance.now() - req.startMs);
    this.opts.log.debug({ clientId: this.clientId, requestId: id, method: req.method, elapsedMs }, 'rpc call deadline expired');
    this.opts.hooks?.onDeadline?.(req.method);
    this.done(req, 'PFS_ERR_RPC_DEADLINE');
    req.reject(new PfsError(
      'PFS_ERR_RPC_DEADLINE',
      `${req.method} (request ${id}) got no reply after ${elapsedMs} ms; it may or may not have been executed`,
    ));
  }

  private done(req: Outstanding, code: string | undefined): void {
    this.opts.hooks?.onCallDone?.(req.method, (performance.now() - req.startMs) / 1000, code);
  }

  /** Forgets a request (answered or abandoned) and lets the ack pass it. */
  private finish(req: Outstanding): void {
    clearTimeout(req.timer);
    this.outstanding.delete(req.id);
    this.acks.finish(req.id);
    if (this.closing && this.outstanding.size === 0) this.onDrained?.();
  }

  private deliverUpcall(method: string, params: unknown): void {
    for (const handler of this.upcallHandlers) {
      const fail = (err: unknown): void => {
        this.opts.log.error({ clientId: this.clientId, method, err: (err as Error)?.message }, 'rpc upcall handler failed');
      };
      try {
        const out: unknown = handler(method, params);
        if (out instanceof Promise) out.catch(fail);
      } catch (err) {
        fail(err);
      }
    }
  }
}
