// Shared by the binding's real-mount tests: why such a test cannot run here (undefined when
// it can), and running commands as child processes (never sync I/O on a mount from the
// process serving it): sh() to completion, startChild() for one that holds something.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFuseMount, forceUnmount, type CreateFuseMountOptions, type FuseMount } from './fuse-mount.js';
import type { FuseOps } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));

export function fuseSkipReason(opts: { python3?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (!existsSync('/usr/bin/fusermount') && !existsSync('/bin/fusermount')) return 'no fusermount (apt-get install fuse)';
  if (opts.python3 && !existsSync('/usr/bin/python3')) return 'no python3';
  try {
    execFileSync(process.execPath, ['-e', 'require("fuse-native")'], { cwd: here, stdio: 'pipe' });
  } catch {
    return 'fuse-native does not load (apt-get install libfuse2)';
  }
  return undefined;
}

/**
 * Mounts ops on a new temp directory (a handler mistake fails the test), runs body, and always
 * unmounts (lazily as a last resort) and removes the directory. check runs before mount().
 */
export async function withFuseMount(
  prefix: string, ops: FuseOps, options: CreateFuseMountOptions,
  body: (mnt: string, fuse: FuseMount) => Promise<void>, check?: (fuse: FuseMount) => void,
): Promise<void> {
  const mnt = await mkdtemp(join(tmpdir(), prefix));
  const fuse = createFuseMount(mnt, ops, { ...options, onHandlerError: (op, err) => { throw new Error(`handler ${op}: ${String(err)}`); } });
  try {
    check?.(fuse);
    await fuse.mount();
    await body(mnt, fuse);
  } finally {
    await fuse.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
}

export function sh(cmd: string, args: string[], timeoutMs = 25_000): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr, pid: child.pid ?? -1 });
    });
  });
}

export interface Child {
  pid: number;
  /** Resolves once the child's stdout contains text (rejects if it exits first). */
  waitFor(text: string): Promise<void>;
  /** Exit code (signal: 128 + n) with all output. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** A long-running child (e.g. one holding a lock) whose output can be waited for. */
export function startChild(cmd: string, args: string[], timeoutMs = 25_000): Child {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ text: string; ok: () => void }> = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of watchers.filter((w) => stdout.includes(w.text))) {
      watchers.splice(watchers.indexOf(w), 1);
      w.ok();
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
    child.on('close', (code, signal) => ok({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr }));
  });
  return {
    pid: child.pid ?? -1,
    waitFor: (text) =>
      stdout.includes(text)
        ? Promise.resolve()
        : new Promise((ok, fail) => {
            watchers.push({ text, ok });
            void done.then((r) => fail(new Error(`child exited (${r.code}) before printing ${JSON.stringify(text)}:\n${r.stdout}${r.stderr}`)));
          }),
    done,
  };
}
