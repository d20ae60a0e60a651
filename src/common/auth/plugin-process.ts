/**
 * One run of an auth plug-in: spawns it (argv[1] = envName, env[envName] = envValue when given),
 * reads its answers, asks for renewals, watches for faults and shuts it down.
 *
 * Invariants: onFault is called at most once, and never after close() started; after a fault the
 * process is being killed (SIGTERM, SIGKILL 2 s later) and gets no more requests. Every answer is
 * expected within answerTimeoutMs of the start or of the renewal byte that asked for it.
 * Messages passed to the callbacks never contain the plug-in's output or secrets: stderr text is
 * passed through `redact` before anyone sees it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseAnswer } from './answer.js';
import { JsonObjectScanner } from './json-stream.js';
import type { Credentials } from './types.js';

export interface PluginProcessOptions {
  path: string;
  envName: string;
  envValue?: string;
  answerTimeoutMs: number;
  /** Applied to stderr text before it is reported. */
  redact(text: string): string;
  onAnswer(credentials: Credentials): void;
  onFault(fault: PluginFault): void;
  /** A redacted excerpt (first STDERR_EXCERPT_CHARS characters) of what the plug-in wrote to stderr. */
  onStderr(excerpt: string): void;
}

export interface PluginFault {
  kind: 'spawn' | 'exit' | 'output' | 'timeout';
  /** What happened, without the plug-in's path: "exited with code 1", "answer field ... is missing". */
  problem: string;
  /** True when the program cannot be started at all (ENOENT, EACCES): retrying soon will not help. */
  permanent: boolean;
  /** Whether the process gave at least one valid answer before the fault. */
  answered: boolean;
}

export interface PluginExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the start of close() to the exit. */
  afterMs: number;
}

export const STDERR_EXCERPT_CHARS = 200;
const STDERR_REPORTS_PER_PROCESS = 20;
const STDERR_FLUSH_MS = 50;
const TERM_AFTER_CLOSE_MS = 2000;
const KILL_AFTER_CLOSE_MS = 5000;
const KILL_AFTER_TERM_MS = 2000;

export class PluginProcess {
  readonly child: ChildProcess;
  answers = 0;
  private awaiting = 1;
  private answerTimer: NodeJS.Timeout | undefined;
  private done = false; // faulted or closing: no more callbacks
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private closing: Promise<PluginExit> | undefined;
  /** Resolves when the process has exited (or could not be spawned). */
  readonly exited: Promise<void>;
  private readonly scanner = new JsonObjectScanner();
  private stderrText = '';
  private stderrTimer: NodeJS.Timeout | undefined;
  private stderrReports = 0;

  constructor(private readonly opts: PluginProcessOptions) {
    const env = { ...process.env };
    if (opts.envValue !== undefined) env[opts.envName] = opts.envValue;
    this.child = spawn(opts.path, [opts.envName], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let onExit!: () => void;
    this.exited = new Promise((resolve) => (onExit = resolve));
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      if (this.child.pid !== undefined) return; // a failed kill or write: the exit will tell
      onExit();
      this.fault('spawn', spawnProblem(err), err.code === 'ENOENT' || err.code === 'EACCES');
    });
    this.child.on('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      onExit();
      // Normally 'close' follows once stdout is drained; a grandchild holding the pipes open must not delay the fault.
      setTimeout(() => this.exitFault(), 500).unref();
    });
    this.child.on('close', () => this.exitFault());
    this.child.stdin!.on('error', () => undefined); // EPIPE when it died: the exit reports it
    this.child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
    this.child.stdout!.on('end', () => this.onScan(this.scanner.end()));
    this.child.stderr!.on('data', (chunk: Buffer) => this.onStderrData(chunk));
    this.armTimer();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Writes one byte to ask for new credentials. False when the process cannot take requests. */
  requestRenewal(): boolean {
    if (this.done || this.exitInfo || !this.child.stdin!.writable) return false;
    this.child.stdin!.write('\n');
    this.awaiting++;
    if (this.awaiting === 1) this.armTimer();
    return true;
  }

  /** Closes stdin; SIGTERM after 2 s and SIGKILL after 5 s if it has not exited. */
  close(): Promise<PluginExit> {
    this.closing ??= (async () => {
      this.done = true;
      this.clearTimers();
      const start = Date.now();
      if (!this.exitInfo && this.child.pid !== undefined) {
        this.child.stdin!.end();
        const term = setTimeout(() => this.child.kill('SIGTERM'), TERM_AFTER_CLOSE_MS);
        const kill = setTimeout(() => this.child.kill('SIGKILL'), KILL_AFTER_CLOSE_MS);
        await this.exited;
        clearTimeout(term);
        clearTimeout(kill);
      }
      this.flushStderr();
      return { code: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null, afterMs: Date.now() - start };
    })();
    return this.closing;
  }

  /** SIGKILL now, if it is still running (a faulted process at shutdown). */
  kill(): void {
    if (!this.exitInfo && this.child.pid !== undefined) this.child.kill('SIGKILL');
  }

  private fault(kind: PluginFault['kind'], problem: string, permanent = false): void {
    if (this.done) return;
    this.flushStderr();
    this.done = true;
    this.clearTimers();
    if (!this.exitInfo && this.child.pid !== undefined) {
      this.child.kill('SIGTERM');
      setTimeout(() => { if (!this.exitInfo) this.child.kill('SIGKILL'); }, KILL_AFTER_TERM_MS).unref();
    }
    this.opts.onFault({ kind, problem, permanent, answered: this.answers > 0 });
  }

  private exitFault(): void {
    if (this.done || !this.exitInfo) return;
    const { code, signal } = this.exitInfo;
    this.fault('exit', signal ? `was killed by signal ${signal}` : `exited with code ${code}`);
  }

  private onStdout(chunk: Buffer): void {
    if (!this.done) this.onScan(this.scanner.push(chunk));
  }

  private onScan(events: ReturnType<JsonObjectScanner['push']>): void {
    for (const e of events) {
      if (this.done) return;
      if (e.kind === 'garbage') return this.fault('output', e.problem);
      const answer = parseAnswer(e.text);
      if (!answer.ok) return this.fault('output', answer.problem);
      this.answers++;
      this.awaiting = Math.max(0, this.awaiting - 1);
      this.armTimer();
      this.opts.onAnswer(answer.credentials);
    }
  }

  private onStderrData(chunk: Buffer): void {
    if (this.stderrText.length < 8192) this.stderrText += chunk.toString('utf8');
    // Wait briefly for the rest of the line: a secret split across writes must be redacted whole.
    this.stderrTimer ??= setTimeout(() => this.flushStderr(), STDERR_FLUSH_MS);
  }

  private flushStderr(): void {
    clearTimeout(this.stderrTimer);
    this.stderrTimer = undefined;
    const text = this.stderrText.trim();
    this.stderrText = '';
    if (!text || this.stderrReports > STDERR_REPORTS_PER_PROCESS) return;
    this.stderrReports++;
    this.opts.onStderr(this.stderrReports > STDERR_REPORTS_PER_PROCESS
      ? `(more stderr output from this run is not logged)`
      : this.opts.redact(text).slice(0, STDERR_EXCERPT_CHARS));
  }

  private armTimer(): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (this.awaiting === 0 || this.done) return;
    this.answerTimer = setTimeout(() => {
      const what = this.answers === 0 ? 'first answer' : 'answer to a renewal request';
      const hint = this.stderrReports > 0 ? ', but wrote to stderr (see above)' : '';
      this.fault('timeout', `gave no ${what} within ${this.opts.answerTimeoutMs} ms${hint} and was killed`);
    }, this.opts.answerTimeoutMs);
  }

  private clearTimers(): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
  }
}

function spawnProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'cannot be started: not found (ENOENT; check the path, PATH and the #! interpreter line)';
    case 'EACCES':
      return 'cannot be started: permission denied (EACCES; is it executable?)';
    default:
      return `cannot be started (${err.code ?? 'error'}${err.syscall ? ` in ${err.syscall}` : ''})`;
  }
}
