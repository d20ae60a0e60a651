/**
 * Path → inode cache for the path-based FUSE API: a tree of names mirroring the part of the
 * volume this agent has looked at. Entries are added by lookups and creations and kept exact
 * by this agent's own unlink, rmdir and rename (a renamed directory carries its cached
 * descendants along, in O(depth)). Bounded: past maxEntries the whole cache is dropped and
 * refills from lookups.
 */
import type { Ino } from '../../common/protocol/index.js';

interface Node {
  ino: Ino;
  children?: Map<string, Node>;
}

export interface PathCache {
  get(path: string): Ino | undefined;
  set(path: string, ino: Ino): void;
  /** Forgets path and everything below it. */
  remove(path: string): void;
  /** Moves path and everything below it to newPath (whatever was at newPath is forgotten). */
  rename(path: string, newPath: string): void;
  size(): number;
}

function split(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

export function createPathCache(rootIno: Ino, maxEntries: number): PathCache {
  let root: Node = { ino: rootIno };
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
      if (existing && existing.ino === ino) return;
      if (existing) count -= countNodes(existing);
      parent.children.set(name, { ino });
      if (++count > maxEntries) {
        root = { ino: rootIno };
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
      parent.children.set(name, moving);
    },
    size: () => count,
  };
}
