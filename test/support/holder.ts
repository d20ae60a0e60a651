/**
 * Test support: a python3 child (test/support/holder.py) that keeps files open on a mount and
 * runs one command at a time: the test never does I/O on a mount itself, and a file can stay
 * open (with buffered writes) across steps, across a SIGSTOP of the agent, and so on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './proxyfsd.js';

export interface Holder {
  /** Runs one command; resolves with { ok } or { err: 'EIO' }; rejects after timeoutMs. */
  cmd(c: Record<string, unknown>, timeoutMs?: number): Promise<{ ok?: unknown; err?: string }>;
  /** As cmd, but rejects on { err }. */
  ok<T = unknown>(c: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

export function startHolder(): Holder {
  const proc = spawn('python3', [join(REPO, 'test/support/holder.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  const waiting: ((line: string) => void)[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  let chain: Promise<unknown> = Promise.resolve();
  const holder: Holder = {
    proc,
    cmd(c, timeoutMs = 30_000) {
      const run = chain.then(() => new Promise<{ ok?: unknown; err?: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`holder: no answer to ${JSON.stringify(c)} within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
        waiting.push((line) => { clearTimeout(timer); resolve(JSON.parse(line)); });
        proc.stdin!.write(`${JSON.stringify(c)}\n`);
      }));
      chain = run.catch(() => undefined);
      return run;
    },
    async ok<T>(c: Record<string, unknown>, timeoutMs?: number) {
      const r = await holder.cmd(c, timeoutMs);
      if (r.err) throw new Error(`holder: ${JSON.stringify(c)} failed with ${r.err}`);
      return r.ok as T;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
  return holder;
}
