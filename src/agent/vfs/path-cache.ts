/**
 * Path → inode cache for the path-based FUSE API: a tree of names mirroring the part of the
 * volume this agent has looked at. Entries are added by lookups and creations and kept exact
 * by this agent's own unlink, rmdir and rename (a renamed directory carries its cached
 * descendants along, in O(depth)). Bounded: past maxEntries the whole cache is dropped and
 * refills from lookups.
 *
 * Other agents change names too (docs/LEASES.md §5): an entry not confirmed for maxAgeMs
 * (EntryDuration) is not used: get() misses when any component of the path is that old, the
 * caller looks the path up again, and set() confirms the entry (keeping what is cached below
 * it when the inode is the same, dropping it when the name now leads elsewhere). A Lookup that
 * answers ENOENT removes the entry. This agent's own changes keep the cache exact as before.
 */
import type { Ino } from '../../common/protocol/index.js';

interface Node {
  ino: Ino;
  /** When this name was last confirmed (looked up, created or renamed here), in clock ms. */
  seenMs: number;
  children?: Map<string, Node>;
}

export interface PathCache {
  /** The inode at path, unless it (or a component above it) is older than maxAgeMs or unknown. */
  get(path: string): Ino | undefined;
  /** The inode last known at path, however old (for decisions where a stale answer is harmless). */
  peek(path: string): Ino | undefined;
  /** Records (or confirms) path → ino; ignored when the parent is not cached. */
  set(path: string, ino: Ino): void;
  /** Forgets path and everything below it. */
  remove(path: string): void;
  /** Moves path and everything below it to newPath (whatever was at newPath is forgotten). */
  rename(path: string, newPath: string): void;
  /** Forgets everything (the mount was replaced after an eviction). */
  clear(): void;
  size(): number;
}

function split(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

export interface PathCacheOptions {
  maxEntries: number;
  /** Entries older than this are looked up again before use; Infinity = never. */
  maxAgeMs: number;
  nowMs: () => number;
}

export function createPathCache(rootIno: Ino, opts: PathCacheOptions): PathCache {
  const { maxEntries, maxAgeMs, nowMs } = opts;
  let root: Node = { ino: rootIno, seenMs: Infinity };
  let count = 0;

  const countNodes = (n: Node): number => {
    let c = 1;
    if (n.children) for (const child of n.children.values()) c += countNodes(child);
    return c;
  };
  const find = (parts: string[]): Node | undefined => {
    let node: Node | undefined = root;
    for (const part of parts) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  };
  const detach = (path: string): Node | undefined => {
    const parts = split(path);
    const name = parts.pop();
    if (name === undefined) return undefined;
    const parent = find(parts);
    const node = parent?.children?.get(name);
    if (!node) return undefined;
    parent!.children!.delete(name);
    return node;
  };

  return {
    get(path) {
      const oldest = nowMs() - maxAgeMs;
      let node: Node | undefined = root;
      for (const part of split(path)) {
        node = node.children?.get(part);
        if (!node || node.seenMs < oldest) return undefined;
      }
      return node.ino;
    },
    peek(path) {
      return find(split(path))?.ino;
    },
    set(path, ino) {
      const parts = split(path);
      const name = parts.pop();
      if (name === undefined) return;
      const parent = find(parts);
      if (!parent) return; // parent unknown (e.g. dropped): nothing to hang it on
      parent.children ??= new Map();
      const existing = parent.children.get(name);
      if (existing && existing.ino === ino) {
        existing.seenMs = nowMs();
        return;
      }
      if (existing) count -= countNodes(existing);
      parent.children.set(name, { ino, seenMs: nowMs() });
      if (++count > maxEntries) {
        root = { ino: rootIno, seenMs: Infinity };
        count = 0;
      }
    },
    remove(path) {
      const node = detach(path);
      if (node) count -= countNodes(node);
    },
    rename(path, newPath) {
      const moving = detach(path);
      const displaced = detach(newPath);
      if (displaced) count -= countNodes(displaced);
      if (!moving) return;
      const parts = split(newPath);
      const name = parts.pop();
      const parent = name === undefined ? undefined : find(parts);
      if (!parent || name === undefined) {
        count -= countNodes(moving);
        return;
      }
      parent.children ??= new Map();
      moving.seenMs = nowMs();
      parent.children.set(name, moving);
    },
    clear() {
      root = { ino: rootIno, seenMs: Infinity };
      count = 0;
    },
    size: () => count,
  };
}
