// Shared by the inode-based session's real-mount tests: mount a MemTree's LlOps (wrapped to
// record what arrived) on a temp directory, run the body, always unmount; and run programs as
// child processes (never sync I/O on the mount from this process: it serves it).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forceUnmount } from '../fuse-mount.js';
import { fuseSkipReason, sh } from '../test-support.js';
import { lowLevelAddonPath } from './addon.js';
import type { MemTree } from './mem-tree.js';
import { createLowLevelSession, type LowLevelSession } from './session.js';
import type { LowLevelSessionOptions } from './session-options.js';
import type { LlOps, LlSetAttr, LlTimeouts } from './types.js';

export const llSkipReason = fuseSkipReason({ python3: true }) ?? (lowLevelAddonPath() ? undefined : 'pfs_fuse_ll addon not built');

export interface Seen {
  setattr: Array<{ ino: number; set: LlSetAttr; fh?: number }>;
  forgets: Array<[number, number]>;
  /** Every other call: op name and its arguments (replies left out). */
  calls: Array<{ op: string; args: unknown[] }>;
}

export async function withSession(
  reader: 'thread' | 'poll', t: LlTimeouts, tree: MemTree,
  body: (mnt: string, seen: Seen, s: LowLevelSession) => Promise<void>,
  opts: LowLevelSessionOptions = {}, wrap: (ops: LlOps) => LlOps = (o) => o,
): Promise<void> {
  const mnt = await mkdtemp(join(tmpdir(), 'pfs-ll-'));
  const seen: Seen = { setattr: [], forgets: [], calls: [] };
  const base = tree.llOps(t);
  const ops: LlOps = { ...base };
  for (const [k, f] of Object.entries(base)) {
    if (k === 'forget' || k === 'setattr') continue;
    (ops as unknown as Record<string, unknown>)[k] = (...args: unknown[]) => {
      seen.calls.push({ op: k, args: args.slice(0, -1) });
      return (f as (...a: unknown[]) => unknown)(...args);
    };
  }
  ops.setattr = (ino, set, fh, r) => { seen.setattr.push({ ino, set, fh }); base.setattr!(ino, set, fh, r); };
  ops.forget = (ino, n) => { seen.forgets.push([ino, n]); base.forget(ino, n); };
  const errors: unknown[] = [];
  const s = createLowLevelSession(mnt, wrap(ops), { reader, fsname: 'pfs:lltest', subtype: 'pfs', onHandlerError: (op, err) => errors.push([op, err]), ...opts });
  try {
    await s.mount();
    await body(mnt, seen, s);
  } finally {
    await s.unmount().catch(() => undefined);
    await forceUnmount(mnt);
    await rm(mnt, { recursive: true, force: true });
  }
  assert.deepEqual(errors, []);
}

export async function run(cmd: string, args: string[]): Promise<string> {
  const r = await sh(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Exit code and stderr of a program expected to fail. */
export async function fails(cmd: string, args: string[]): Promise<string> {
  const r = await sh(cmd, args);
  assert.notEqual(r.code, 0, `${cmd} ${args.join(' ')} should fail: ${r.stdout}`);
  return r.stderr;
}

export const py = (code: string, ...args: string[]) => run('python3', ['-c', code, ...args]);

/** Waits (polling, up to 1 s) until cond holds. */
export async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) await new Promise((ok) => setTimeout(ok, 20));
  assert.ok(cond(), what);
}
