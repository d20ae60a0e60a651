/**
 * FramedConnection: one socket (TCP or TLS) seen as a stream of frames, used by both client and
 * server. It owns decoding, PING/PONG, idle detection and the socket's error handling, so that
 * nothing thrown by a peer's bytes or by a frame handler escapes a socket callback.
 * - Every keepAliveMs/2 it checks the last receive time: silent for keepAliveMs -> send PING;
 *   silent for 2*keepAliveMs -> destroy (the peer is dead or wedged).
 * - A protocol error is logged with log.warn (remote address, reason) and the socket destroyed.
 * - onClose is called exactly once, whatever ended the socket.
 * - Bounds (docs/SECURITY.md §6): a frame must arrive whole within frameDeadlineMs of its first
 *   byte; a frame body over BIG_FRAME_BYTES is received only while the shared budget has room
 *   for it (else the connection is dropped); while more than maxSendBufferBytes wait to be sent,
 *   the peer's bytes are not read (it must read its replies before it can send more).
 * - hold()/release(): reading and delivering frames stop while any hold is on (the server holds
 *   a socket until its peer is identified, and while a client has too many calls in flight);
 *   frames already decoded wait in order.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, FrameDecoder, type Frame } from './frame.js';
import type { Logger } from './types.js';

/** Bytes of big frames being received, shared by every connection of a server. */
export interface FrameBudget {
  take(bytes: number): boolean;
  give(bytes: number): void;
}

/** Frame bodies above this draw on the FrameBudget; smaller ones are bounded by the connection count. */
export const BIG_FRAME_BYTES = 1 << 20;

export interface ConnectionOptions {
  maxFrameBytes: number;
  keepAliveMs: number;
  log: Logger;
  /** A frame begun and not finished within this is a protocol error (default: no limit). */
  frameDeadlineMs?: number;
  /** Reading pauses while more than this waits to be sent (default: no limit). */
  maxSendBufferBytes?: number;
  budget?: FrameBudget;
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
  private holds = 0;
  private ending = false;
  /** Frames decoded while held (or behind one that set a hold), delivered on release. */
  private queued: Frame[] = [];
  private sendBlocked = false;
  private frameTimer: NodeJS.Timeout | undefined;
  /** Budget bytes taken for the big frame being received. */
  private bigFrameBytes = 0;

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
    const limit = this.opts.maxSendBufferBytes;
    if (limit !== undefined && !this.sendBlocked && this.socket.writableLength > limit) {
      this.sendBlocked = true;
      this.hold();
      this.socket.once('drain', () => {
        this.sendBlocked = false;
        this.release();
      });
    }
    return true;
  }

  /** Stops reading the peer's bytes until as many release() calls. */
  hold(): void {
    if (this.holds++ === 0) this.socket.pause();
  }

  release(): void {
    if (this.holds > 0 && --this.holds === 0 && !this.closed) {
      this.socket.resume();
      this.deliver();
    }
  }

  /** Hands queued frames to the handler while nothing holds the connection. */
  private deliver(): void {
    try {
      while (this.queued.length > 0 && this.holds === 0 && !this.closed && !this.ending && !this.socket.destroyed) {
        const frame = this.queued.shift()!;
        if (frame.kind === 'ping') this.send({ kind: 'pong' });
        else if (frame.kind !== 'pong') this.handlers.onFrame(frame);
      }
    } catch (err) {
      this.opts.log.error({ ...this.opts.logContext, remote: this.remote, err: (err as Error)?.message }, 'rpc frame handler failed, closing connection');
      this.destroy('internal error');
    }
  }

  /** Encodes and sends; throws only if the frame holds values JSON cannot carry. */
  send(frame: Frame): boolean {
    return this.sendBytes(encodeFrame(frame));
  }

  /** Graceful close: lets written data leave, destroys after graceMs if the peer lingers. */
  end(reason: string, graceMs = 1000): void {
    if (this.closed || this.socket.destroyed) return;
    this.closeReason ??= reason;
    // Read on (and ignore) whatever still comes, so the peer's FIN is seen even on a held socket.
    this.ending = true;
    this.socket.resume();
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
    if (this.closed || this.ending) return;
    this.lastReceivedMs = performance.now();
    try {
      const { frames, error } = this.decoder.push(chunk);
      if (frames.length > 0) this.frameDone();
      this.queued.push(...frames);
      this.deliver();
      if (error) return this.protocolError(error.message);
      if (this.decoder.midFrame) this.frameStarted();
    } catch (err) {
      this.opts.log.error(
        { ...this.opts.logContext, remote: this.remote, err: (err as Error)?.message },
        'rpc frame handler failed, closing connection',
      );
      this.destroy('internal error');
    }
  }

  /** A frame is partly in: start its deadline, and take budget for a big one. */
  private frameStarted(): void {
    const deadlineMs = this.opts.frameDeadlineMs;
    if (deadlineMs !== undefined && !this.frameTimer) {
      this.frameTimer = setTimeout(() => this.protocolError(`a frame was not completed within ${deadlineMs} ms`), deadlineMs);
      this.frameTimer.unref();
    }
    const body = this.decoder.pendingBodyBytes;
    if (this.opts.budget && body > BIG_FRAME_BYTES && this.bigFrameBytes === 0) {
      if (!this.opts.budget.take(body)) {
        this.protocolError(`a frame of ${body} bytes does not fit the server's budget for big frames now`);
        return;
      }
      this.bigFrameBytes = body;
    }
  }

  /** Every frame begun has arrived (or the connection ended). */
  private frameDone(): void {
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    if (this.bigFrameBytes > 0) {
      this.opts.budget?.give(this.bigFrameBytes);
      this.bigFrameBytes = 0;
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
    this.frameDone();
    try {
      this.handlers.onClose(this.closeReason ?? 'closed by peer');
    } catch (err) {
      this.opts.log.error({ ...this.opts.logContext, err: (err as Error)?.message }, 'rpc close handler failed');
    }
  }
}
