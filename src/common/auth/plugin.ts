/**
 * startAuthPlugin: a CredentialSource backed by an auth plug-in process (docs/PLUGINS.md).
 *
 * Policy over PluginProcess:
 * - The plug-in starts at once. Its answers (at start, after each renewal byte, or unasked)
 *   become the current credentials.
 * - Callers that need an answer (get() before the first one, renew() of the current one) share
 *   one Pending. A renewal writes one byte; every renew(stale) of those credentials joins it.
 * - On a fault (exit, spawn error, bad output, no answer in time) the fault is logged once and
 *   the plug-in restarts after a backoff (restartDelayMs doubling per failed start, capped at
 *   30 s). Waiters keep waiting across restarts, but never longer than answerTimeoutMs * 2 nor
 *   past MAX_FAILED_STARTS failed starts, nor past a spawn error that retrying cannot fix.
 * - S3 keys with an Expiration are renewed renewBeforeMs before it (at most half their life).
 * - Nothing logged or thrown contains the environment value or credentials; stderr is redacted
 *   (redact.ts: the secrets in the forms a program prints them).
 * - Every log line the plug-in can cause (stderr, answers, faults, renewals) is rate-limited per
 *   kind: LOG_LINES_PER_WINDOW lines every LOG_WINDOW_MS, then one summary line with the count of
 *   the suppressed ones, so a plug-in that floods its output cannot flood the log.
 */
import { PfsError } from '../errors/index.js';
import { rateLimitedLog, type RateLimitedLog } from '../log/index.js';
import type { Logger } from '../rpc/index.js';
import { secretsOf } from './answer.js';
import { PluginProcess, type PluginFault } from './plugin-process.js';
import { Redactor } from './redact.js';
import type { CredentialSource, Credentials } from './types.js';

export interface AuthPluginOptions {
  /** The plug-in program: a path, or a name looked up on PATH. */
  path: string;
  /** Passed as argv[1]: the environment variable the plug-in reads its secrets from. */
  envName: string;
  /** When given, env[envName] is set to it; otherwise the inherited environment is kept. */
  envValue?: string;
  log: Logger;
  /** How long the plug-in has for each answer. Default 30 s. */
  answerTimeoutMs?: number;
  /** First restart delay, doubling per failed start up to 30 s. Default 1 s. */
  restartDelayMs?: number;
  /** Longest life accepted for S3 keys (and the life given to an Expiration in the past). Default 12 h. */
  maxExpiryMs?: number;
  /** How long before an S3 Expiration to renew; at most half the remaining life. Default 5 min. */
  renewBeforeMs?: number;
}

export const MAX_FAILED_STARTS = 5;
const RESTART_DELAY_CAP_MS = 30_000;
/** Log lines per kind (stderr, answer, fault, renewal) in each window; the rest are counted. */
export const LOG_LINES_PER_WINDOW = 5;
export const LOG_WINDOW_MS = 10_000;

interface Pending {
  promise: Promise<Credentials>;
  resolve(c: Credentials): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  failedStarts: number;
}

class PluginCredentialSource implements CredentialSource {
  readonly stats = { renewals: 0, pluginStarts: 0, pluginFailures: 0 };
  private readonly answerTimeoutMs: number;
  private readonly restartDelayMs: number;
  private readonly maxExpiryMs: number;
  private readonly renewBeforeMs: number;
  private readonly name: string;
  private proc: PluginProcess | undefined;
  /** Faulted processes that were signalled but have not exited yet. */
  private readonly dying = new Set<PluginProcess>();
  private current: Credentials | undefined;
  private redactor = new Redactor();
  private pending: Pending | undefined;
  private failedStarts = 0;
  private lastProblem: string | undefined;
  /** Set while the last start failed in a way retrying soon will not fix (ENOENT, EACCES). */
  private permanentProblem: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryCapLogged = false;
  private closing: Promise<void> | undefined;
  private readonly log: RateLimitedLog;

  constructor(private readonly opts: AuthPluginOptions) {
    this.answerTimeoutMs = opts.answerTimeoutMs ?? 30_000;
    this.restartDelayMs = opts.restartDelayMs ?? 1000;
    this.maxExpiryMs = opts.maxExpiryMs ?? 12 * 3600_000;
    this.renewBeforeMs = opts.renewBeforeMs ?? 5 * 60_000;
    this.name = `auth plug-in ${opts.path}`;
    this.log = rateLimitedLog(opts.log, {
      windowMs: LOG_WINDOW_MS,
      linesPerWindow: LOG_LINES_PER_WINDOW,
      summary: (kind, n) => ({ fields: { plugin: opts.path, kind }, msg: `${this.name}: ${n} more ${kind} lines not logged (at most ${LOG_LINES_PER_WINDOW} every ${LOG_WINDOW_MS} ms)` }),
    });
    this.redactor.add(opts.envValue ?? process.env[opts.envName]);
    this.spawn();
  }

  get(opts?: { signal?: AbortSignal }): Promise<Credentials> {
    if (this.closing) return Promise.reject(this.closedError());
    if (this.current) return Promise.resolve(this.current);
    if (this.permanentProblem) return Promise.reject(new PfsError('PFS_ERR_PLUGIN', `${this.name} ${this.permanentProblem}`));
    return withSignal(this.waitForAnswer().promise, opts?.signal);
  }

  renew(stale: Credentials, opts?: { signal?: AbortSignal }): Promise<Credentials> {
    if (this.closing) return Promise.reject(this.closedError());
    if (this.current && this.current !== stale) return Promise.resolve(this.current);
    if (this.pending) return withSignal(this.pending.promise, opts?.signal);
    if (this.permanentProblem) return Promise.reject(new PfsError('PFS_ERR_PLUGIN', `${this.name} ${this.permanentProblem}`));
    const pending = this.waitForAnswer();
    // A plug-in that is dead or still starting gets no byte: its answer at start is the renewal.
    if (this.current && this.proc && this.proc.answers > 0 && this.proc.requestRenewal()) this.stats.renewals++;
    return withSignal(pending.promise, opts?.signal);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.restartTimer);
      clearTimeout(this.expiryTimer);
      this.settle(this.closedError());
      for (const p of this.dying) p.kill();
      await Promise.all([this.proc?.close(), ...[...this.dying].map((p) => p.exited)]);
      this.log.close();
    })();
    return this.closing;
  }

  private spawn(): void {
    this.restartTimer = undefined;
    if (this.closing) return;
    this.permanentProblem = undefined;
    this.stats.pluginStarts++;
    const proc: PluginProcess = new PluginProcess({
      path: this.opts.path,
      envName: this.opts.envName,
      ...(this.opts.envValue !== undefined && { envValue: this.opts.envValue }),
      answerTimeoutMs: this.answerTimeoutMs,
      redact: (text) => this.redactor.redact(text),
      onAnswer: (c) => this.onAnswer(c),
      onFault: (f) => this.onFault(proc, f),
      onStderr: (excerpt) => this.log.line('warn', 'stderr', { plugin: this.opts.path, pluginPid: proc.pid, stderr: excerpt },
        `${this.name} wrote to stderr: ${excerpt}`),
    });
    this.proc = proc;
  }

  private onAnswer(c: Credentials): void {
    const previous = this.current;
    const asked = this.pending !== undefined;
    if (c.kind === 's3' && c.expiration) c.expiration = this.capExpiry(c.expiration);
    this.redactor = new Redactor();
    this.redactor.add(this.opts.envValue ?? process.env[this.opts.envName],
      ...(previous ? secretsOf(previous) : []), ...secretsOf(c));
    this.current = c;
    // Operators see renewals (never what they carried); the first answer is the start.
    if (previous) {
      this.log.line('info', 'answer', { plugin: this.opts.path, pluginPid: this.proc?.pid, renewals: this.stats.renewals },
        `${this.name}: credentials renewed${asked ? '' : ' unasked'}`);
    }
    this.failedStarts = 0;
    this.lastProblem = undefined;
    this.permanentProblem = undefined;
    this.settle(c);
    this.scheduleExpiryRenewal(c);
  }

  private onFault(proc: PluginProcess, f: PluginFault): void {
    if (this.closing || proc !== this.proc) return;
    this.proc = undefined;
    this.dying.add(proc);
    void proc.exited.then(() => this.dying.delete(proc));
    this.stats.pluginFailures++;
    this.lastProblem = f.problem;
    if (!f.answered) {
      this.failedStarts++;
      if (this.pending) this.pending.failedStarts++;
    }
    const delayMs = Math.min(this.restartDelayMs * 2 ** Math.max(0, this.failedStarts - 1),
      Math.max(RESTART_DELAY_CAP_MS, this.restartDelayMs));
    this.log.line('error', 'fault', { plugin: this.opts.path, pluginPid: proc.pid, fault: f.kind, failedStarts: this.failedStarts, restartInMs: delayMs },
      `${this.name} ${f.problem}; restarting it in ${delayMs} ms`);
    this.permanentProblem = f.permanent ? f.problem : undefined;
    if (f.permanent) {
      this.settle(new PfsError('PFS_ERR_PLUGIN', `${this.name} ${f.problem}`));
    } else if (this.pending && this.pending.failedStarts >= MAX_FAILED_STARTS) {
      this.settle(new PfsError('PFS_ERR_PLUGIN', `${this.name} failed ${MAX_FAILED_STARTS} starts in a row; last: ${f.problem}`));
    }
    this.restartTimer = setTimeout(() => this.spawn(), delayMs);
  }

  private waitForAnswer(): Pending {
    if (this.pending) return this.pending;
    let resolve!: (c: Credentials) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<Credentials>((res, rej) => { resolve = res; reject = rej; });
    promise.catch(() => undefined); // callers that aborted no longer listen
    const boundMs = this.answerTimeoutMs * 2;
    const timer = setTimeout(() => {
      const last = this.lastProblem ? `; last problem: it ${this.lastProblem}` : '';
      this.settle(new PfsError('PFS_ERR_PLUGIN', `${this.name} gave no credentials within ${boundMs} ms${last}`));
    }, boundMs);
    this.pending = { promise, resolve, reject, timer, failedStarts: 0 };
    return this.pending;
  }

  /** Resolves or rejects everyone waiting for an answer. */
  private settle(outcome: Credentials | Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private capExpiry(expiration: Date): Date {
    const now = Date.now();
    const lifeMs = expiration.getTime() - now;
    if (lifeMs > 0 && lifeMs <= this.maxExpiryMs) return expiration;
    if (!this.expiryCapLogged) {
      this.expiryCapLogged = true;
      const why = lifeMs <= 0 ? 'is in the past' : `is more than ${this.maxExpiryMs} ms ahead`;
      this.opts.log.warn({ plugin: this.opts.path, expiration: expiration.toISOString() },
        `${this.name}: S3 Expiration ${expiration.toISOString()} ${why}; treating the keys as valid for ${this.maxExpiryMs} ms (logged once)`);
    }
    return new Date(now + this.maxExpiryMs);
  }

  private scheduleExpiryRenewal(c: Credentials): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (c.kind !== 's3' || !c.expiration) return;
    const lifeMs = c.expiration.getTime() - Date.now();
    const inMs = Math.max(0, lifeMs - Math.min(this.renewBeforeMs, lifeMs / 2));
    this.expiryTimer = setTimeout(() => {
      if (this.current !== c || this.closing) return;
      this.log.line('info', 'renewal', { plugin: this.opts.path, expiration: c.expiration!.toISOString() },
        `${this.name}: renewing S3 keys before they expire at ${c.expiration!.toISOString()}`);
      this.renew(c).catch((err: Error) => {
        this.log.line('error', 'renewal', { plugin: this.opts.path, code: (err as PfsError).code }, `${this.name}: proactive renewal failed: ${err.message}`);
      });
    }, inMs);
    this.expiryTimer.unref();
  }

  private closedError(): PfsError {
    return new PfsError('PFS_ERR_CONFIG', `${this.name}: the credential source is closed`);
  }
}

/**
 * Starts the plug-in and returns the credentials it produces. See the file comment for the policy.
 * Throws PfsError('PFS_ERR_CONFIG') at once for an empty path or an unusable variable name.
 */
export function startAuthPlugin(opts: AuthPluginOptions): CredentialSource {
  if (!opts.path || opts.path.includes('\0')) throw new PfsError('PFS_ERR_CONFIG', 'the auth plug-in path (PlugInPath) is empty or invalid');
  if (!/^[^=\0]+$/.test(opts.envName)) {
    throw new PfsError('PFS_ERR_CONFIG', `auth plug-in ${opts.path}: the variable name (PlugInEnvName) must be non-empty without "=" or NUL`);
  }
  return new PluginCredentialSource(opts);
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e as Error); },
    );
  });
}
