/**
 * The credentials of the process behind a FUSE request: uid/gid/pid come from the binding's
 * caller context; supplementary groups are read from /proc/<pid>/status (asynchronously; /proc
 * is not our mount) and cached briefly per pid.
 */
import { readFile } from 'node:fs/promises';
import type { Cred } from '../../common/protocol/index.js';

export interface OpContext {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

export interface CredSource {
  cred(ctx: OpContext): Promise<Cred>;
  /**
   * The agent's own identity, for the calls it makes for itself rather than for a process
   * (extent-map fetches, Wrote, attribute refreshes): proxyfsd checks it like any other
   * (an agent of a non-root user may only act as that user, docs/SECURITY.md §4).
   */
  own(): Cred;
}

/** This process's effective uid, gid and supplementary groups. */
export function processCred(): Cred {
  const uid = process.geteuid?.() ?? 0;
  return { uid, gid: process.getegid?.() ?? 0, groups: uid === 0 ? [] : (process.getgroups?.() ?? []) };
}

export function createCredSource(opts: { ttlMs: number; maxEntries: number; now: () => number }): CredSource {
  const cache = new Map<number, { groups: number[]; at: number }>();
  const self = processCred();
  return {
    own: () => self,
    async cred(ctx) {
      if (ctx.uid === 0) return { uid: 0, gid: ctx.gid, groups: [] };
      const hit = cache.get(ctx.pid);
      const now = opts.now();
      let groups = hit && now - hit.at < opts.ttlMs ? hit.groups : undefined;
      if (!groups) {
        groups = await readGroups(ctx.pid);
        if (cache.size >= opts.maxEntries) cache.clear();
        cache.set(ctx.pid, { groups, at: now });
      }
      return { uid: ctx.uid, gid: ctx.gid, groups };
    },
  };
}

async function readGroups(pid: number): Promise<number[]> {
  if (pid <= 0) return [];
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith('Groups:'));
    return line ? line.slice(7).trim().split(/\s+/).filter(Boolean).map(Number).filter(Number.isInteger) : [];
  } catch {
    return []; // the process is gone; its own uid/gid still apply
  }
}
