/** Open file handles: fh numbers (uint32, never 0) → inode, open flags, opener, read-ahead state. */
import type { Cred, Ino } from '../../common/protocol/index.js';
import { FsError } from '../../common/errors/index.js';

export interface Handle {
  ino: Ino;
  flags: number;
  /** End of the previous read, to detect sequential readers. */
  lastReadEnd: number;
  /** Read-ahead already requested up to here. */
  readAheadUntil: number;
  /** Who opened it: a handle is opened again as them after the mount was replaced (eviction). */
  cred: Cred;
  /** The volume client's mount generation the server-side open belongs to. */
  generation: number;
  /** A re-open under a new mount in progress. */
  reopening?: Promise<void>;
}

export interface Handles {
  add(ino: Ino, flags: number, opened: { cred: Cred; generation: number }): number;
  get(fh: number): Handle;
  remove(fh: number): Handle | undefined;
  /** How many handles are open on ino. */
  openCount(ino: Ino): number;
  size(): number;
}

export function createHandles(): Handles {
  const table = new Map<number, Handle>();
  const perIno = new Map<Ino, number>();
  let next = 1;
  return {
    add(ino, flags, opened) {
      while (table.has(next) || next === 0) next = (next + 1) >>> 0;
      const fh = next;
      next = (next + 1) >>> 0;
      table.set(fh, { ino, flags, lastReadEnd: -1, readAheadUntil: 0, cred: opened.cred, generation: opened.generation });
      perIno.set(ino, (perIno.get(ino) ?? 0) + 1);
      return fh;
    },
    get(fh) {
      const h = table.get(fh);
      if (!h) throw new FsError('EBADF', `no open file handle ${fh}`);
      return h;
    },
    remove(fh) {
      const h = table.get(fh);
      if (!h) return undefined;
      table.delete(fh);
      const n = (perIno.get(h.ino) ?? 1) - 1;
      if (n <= 0) perIno.delete(h.ino);
      else perIno.set(h.ino, n);
      return h;
    },
    openCount: (ino) => perIno.get(ino) ?? 0,
    size: () => table.size,
  };
}
