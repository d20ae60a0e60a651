/**
 * The kernel's nodes (inode-based FUSE session, docs/AGENT.md): every inode the kernel was given
 * in an entry reply, with its lookup count (one per entry reply, less what FORGET returns) and
 * its file type. Invariant: every node id the kernel holds is here, so an operation by node id
 * never needs a name. Bounded by what the kernel keeps (its inode cache), not by a setting.
 */
import { S_IFMT, S_IFREG, type Ino } from '../../common/protocol/index.js';

export interface Nodes {
  /** One more kernel reference to the inode of attr (an entry reply was sent). */
  ref(ino: Ino, mode: number): void;
  /** The kernel dropped n references; true when it holds none any more (the entry left the table). */
  forget(ino: Ino, n: number): boolean;
  has(ino: Ino): boolean;
  /** True when the node is known to be a regular file. */
  isFile(ino: Ino): boolean;
  /** Every node the kernel holds. */
  inos(): IterableIterator<Ino>;
  /** Forgets everything (the session ended). */
  clear(): void;
  size(): number;
}

export function createNodes(rootIno: Ino, rootMode: number): Nodes {
  const table = new Map<Ino, { nlookup: number; type: number }>();
  const root = { nlookup: Infinity, type: rootMode & S_IFMT };
  table.set(rootIno, root);
  return {
    ref(ino, mode) {
      const n = table.get(ino);
      if (n) {
        n.nlookup += 1;
        n.type = mode & S_IFMT;
      } else {
        table.set(ino, { nlookup: 1, type: mode & S_IFMT });
      }
    },
    forget(ino, count) {
      const n = table.get(ino);
      if (!n) return true;
      n.nlookup -= count;
      if (n.nlookup > 0) return false;
      table.delete(ino);
      return true;
    },
    has: (ino) => table.has(ino),
    isFile: (ino) => table.get(ino)?.type === S_IFREG,
    inos: () => table.keys(),
    clear() {
      table.clear();
      table.set(rootIno, root);
    },
    size: () => table.size,
  };
}
