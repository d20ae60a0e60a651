/**
 * Validation of entry names and symlink targets, before any lookup.
 * '' is ENOENT (as an empty path), '/' or NUL is EINVAL (a single component cannot hold them),
 * more than NAME_MAX bytes of UTF-8 is ENAMETOOLONG. '.' and '..' are valid names whose meaning
 * each operation decides (lookup follows them, mkdir says EEXIST, rmdir EINVAL/ENOTEMPTY, ...).
 */
import { FsError } from '../../common/errors/index.js';
import { NAME_MAX, PATH_MAX } from '../../common/protocol/index.js';

export type NameKind = 'normal' | 'dot' | 'dotdot';

const LONE_SURROGATE = /\p{Cs}/u;

export function nameKind(name: string): NameKind {
  if (name === '') throw new FsError('ENOENT', 'empty name');
  if (name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', 'name contains / or NUL');
  if (name === '.') return 'dot';
  if (name === '..') return 'dotdot';
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
  if (LONE_SURROGATE.test(name)) throw new FsError('EINVAL', 'name is not valid Unicode');
  return 'normal';
}

/** Checks a name that must be a plain entry name; '.' and '..' throw `dotError`. */
export function plainName(name: string, dotError: 'EEXIST' | 'EISDIR' | 'EBUSY'): string {
  if (nameKind(name) !== 'normal') throw new FsError(dotError, `${name} is not a plain name`);
  return name;
}

export function checkSymlinkTarget(target: string): Buffer {
  if (target === '') throw new FsError('ENOENT', 'empty symlink target');
  const bytes = Buffer.from(target, 'utf8');
  if (bytes.length > PATH_MAX) throw new FsError('ENAMETOOLONG', `symlink target longer than ${PATH_MAX} bytes`);
  if (target.includes('\0')) throw new FsError('EINVAL', 'symlink target contains NUL');
  return bytes;
}
