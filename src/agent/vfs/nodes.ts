/**
 * The kernel's nodes (inode-based FUSE session, docs/AGENT.md): every inode the kernel was given
 * in an entry reply, with its lookup count (one per entry reply, less what FORGET returns) and
 * its file type. Invariant: every node id the kernel holds is here, so an operation by node id
 * never needs a name. Bounded by what the kernel keeps (its inode cache), not by a setting.
 */
import { S_IFMT, S_IFREG, type Attr, type Ino } from '../../common/protocol/index.js';

export interface Nodes {
  /** One more kernel reference to the inode of attr (an entry reply was sent). */
  ref(ino: Ino, mode: number): void;
  /** The kernel dropped n references; true when it holds none any more (the entry left the table). */
  forget(ino: Ino, n: number): boolean;
  has(ino: Ino): boolean;
  /** True when the node is known to be a regular file. */
  isFile(ino: Ino): boolean;
  /** The latest attributes seen of a node that is not a regular file (kept while the kernel holds it). */
  seen(attr: Attr): void;
  /**
   * What seen() kept of ino: the answer to an fstat of a directory or FIFO the kernel still holds
   * after its inode was removed (proxyfsd keeps only regular files alive while open).
   */
  lastSeen(ino: Ino): Attr | undefined;
  /** Every node the kernel holds. */
  inos(): IterableIterator<Ino>;
  /** Forgets everything (the session ended). */
  clear(): void;
  size(): number;
}

export function createNodes(rootIno: Ino, rootMode: number): Nodes {
  const table = new Map<Ino, { nlookup: number; type: number; attr?: Attr }>();
  const root: { nlookup: number; type: number; attr?: Attr } = { nlookup: Infinity, type: rootMode & S_IFMT };
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
    seen(attr) {
      const n = table.get(attr.ino);
      if (n && (attr.mode & S_IFMT) !== S_IFREG) n.attr = attr;
    },
    lastSeen: (ino) => table.get(ino)?.attr,
    inos: () => table.keys(),
    clear() {
      table.clear();
      root.attr = undefined;
      table.set(rootIno, root);
    },
    size: () => table.size,
  };
}
