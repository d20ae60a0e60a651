/**
 * FramedConnection: one socket (TCP or TLS) seen as a stream of frames, used by both client and
 * server. It owns decoding, PING/PONG, idle detection and the socket's error handling, so that
 * nothing thrown by a peer's bytes or by a frame handler escapes a socket callback.
 * - Every keepAliveMs/2 it checks the last receive time: silent for keepAliveMs -> send PING;
 *   silent for 2*keepAliveMs -> destroy (the peer is dead or wedged).
 * - A protocol error is logged with log.warn (remote address, reason) and the socket destroyed.
 * - onClose is called exactly once, whatever ended the socket.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, FrameDecoder, type Frame } from './frame.js';
import type { Logger } from './types.js';

export interface ConnectionOptions {
  maxFrameBytes: number;
  keepAliveMs: number;
  log: Logger;
  /** Extra fields for log lines (e.g. side, clientId). */
  logContext?: Record<string, unknown>;
}

export interface ConnectionHandlers {
  onFrame(frame: Frame): void;
  onClose(reason: string): void;
}

export class FramedConnection {
  readonly remote: string;
  private readonly decoder: FrameDecoder;
  private readonly timer: NodeJS.Timeout;
  private lastReceivedMs = performance.now();
  private lastPingMs = 0;
  private corked = false;
  private closeReason: string | undefined;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.remote = `${socket.remoteAddress ?? opts.logContext?.target ?? '?'}:${socket.remotePort ?? ''}`;
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, opts.keepAliveMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason ??= `socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
    });
    socket.on('close', () => this.onSocketClose());
    const tickMs = Math.max(5, Math.floor(opts.keepAliveMs / 2));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  get open(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  /** Queues an encoded frame; writes issued in one tick leave in one syscall. */
  sendBytes(bytes: Buffer): boolean {
    if (!this.open) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
    return true;
  }

  /** Encodes and sends; throws only if the frame holds values JSON cannot carry. */
  send(frame: Frame): boolean {
    return this.sendBytes(encodeFrame(frame));
  }

  /** Graceful close: lets written data leave, destroys after graceMs if the peer lingers. */
  end(reason: string, graceMs = 1000): void {
    if (this.closed || this.socket.destroyed) return;
    this.closeReason ??= reason;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(reason: string): void {
    this.closeReason ??= reason;
    this.socket.destroy();
  }

  /** Logs a protocol violation and drops the connection. */
  protocolError(reason: string): void {
    if (this.closed) return;
    this.opts.log.warn({ ...this.opts.logContext, remote: this.remote, reason }, 'rpc protocol violation, closing connection');
    this.destroy(`protocol error: ${reason}`);
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceivedMs = performance.now();
    try {
      const { frames, error } = this.decoder.push(chunk);
      for (const frame of frames) {
        if (this.closed || this.socket.destroyed) return;
        if (frame.kind === 'ping') this.send({ kind: 'pong' });
        else if (frame.kind !== 'pong') this.handlers.onFrame(frame);
      }
      if (error) this.protocolError(error.message);
    } catch (err) {
      this.opts.log.error(
        { ...this.opts.logContext, remote: this.remote, err: (err as Error)?.message },
        'rpc frame handler failed, closing connection',
      );
      this.destroy('internal error');
    }
  }

  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    const silentMs = now - this.lastReceivedMs;
    if (silentMs >= 2 * this.opts.keepAliveMs) {
      this.opts.log.warn(
        { ...this.opts.logContext, remote: this.remote, silentMs: Math.round(silentMs) },
        'rpc peer silent too long, dropping connection',
      );
      this.destroy('keepalive timeout');
    } else if (silentMs >= this.opts.keepAliveMs && now - this.lastPingMs >= this.opts.keepAliveMs) {
      this.lastPingMs = now;
      this.send({ kind: 'ping' });
    }
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      this.handlers.onClose(this.closeReason ?? 'closed by peer');
    } catch (err) {
      this.opts.log.error({ ...this.opts.logContext, err: (err as Error)?.message }, 'rpc close handler failed');
    }
  }
}
