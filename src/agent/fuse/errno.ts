/**
 * The only place error codes become errno numbers. POSIX code names map through the
 * platform's table; EINTR (an interrupted lock wait) too; PFS_ERR_OBJECT_STORE_FULL becomes
 * ENOSPC; every other code (PFS_ERR_*, unknown) becomes EIO.
 */
import { constants } from 'node:os';
import { errorCode, isFsErrorCode } from '../../common/errors/index.js';

const table = constants.errno as Record<string, number>;

export const EIO = table.EIO!;
export const ENOSYS = table.ENOSYS!;

/** The negative errno FUSE expects for err; `unexpected` is true when it is not a POSIX answer. */
export function toErrno(err: unknown): { errno: number; unexpected: boolean } {
  // A lock wait the caller's signal ended (vfs InterruptedError): never crosses the RPC boundary.
  if ((err as { code?: unknown } | null)?.code === 'EINTR') return { errno: -table.EINTR!, unexpected: false };
  const code = errorCode(err);
  if (isFsErrorCode(code) && table[code] !== undefined) return { errno: -table[code]!, unexpected: false };
  if (code === 'PFS_ERR_OBJECT_STORE_FULL') return { errno: -table.ENOSPC!, unexpected: false };
  return { errno: -EIO, unexpected: true };
}

const names = new Map<number, string>();
for (const [name, n] of Object.entries(table)) if (!names.has(n)) names.set(n, name);

/** The code name of an errno, either sign ('ENOENT' for -2): metric labels and trace lines. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}
