/** Open file handles: fh numbers (uint32, never 0) → inode, open flags, read-ahead state. */
import type { Ino } from '../../common/protocol/index.js';
import { FsError } from '../../common/errors/index.js';

export interface Handle {
  ino: Ino;
  flags: number;
  /** End of the previous read, to detect sequential readers. */
  lastReadEnd: number;
  /** Read-ahead already requested up to here. */
  readAheadUntil: number;
}

export interface Handles {
  add(ino: Ino, flags: number): number;
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
    add(ino, flags) {
      while (table.has(next) || next === 0) next = (next + 1) >>> 0;
      const fh = next;
      next = (next + 1) >>> 0;
      table.set(fh, { ino, flags, lastReadEnd: -1, readAheadUntil: 0 });
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
