/**
 * Reading the PEM files of TLS settings at start-up, with errors that name the setting and the
 * file and never hold the file's content. A private key must be readable by its owner only: a
 * key file with any group or other permission is refused (docs/SECURITY.md §2).
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { PfsError } from '../errors/index.js';

/** The file's bytes; PFS_ERR_CONFIG naming `setting` (e.g. `[Agent] RetryRPCCertFilePath`) when it cannot be read. */
export function readPemFile(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw cannotRead(path, setting, err);
  }
}

/** readPemFile for a private key, refused unless the file is a regular file that only its owner may access. */
export function readPrivateKeyFile(path: string, setting: string, what = 'the private key'): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannotRead(path, setting, err);
  }
  try {
    const st = fstatSync(fd); // the file opened, not a name that may be swapped after the check
    if (!st.isFile()) throw new PfsError('PFS_ERR_CONFIG', `${setting}: ${what} ${path} is not a regular file`);
    const open = st.mode & 0o077;
    if (open !== 0) {
      const who = [(open & 0o070) !== 0 ? 'its group' : '', (open & 0o007) !== 0 ? 'every user' : ''].filter((w) => w !== '').join(' and ');
      throw new PfsError('PFS_ERR_CONFIG', `${setting}: ${what} ${path} is open to ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `it must be readable by its owner only: chmod 600 ${path}`);
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function cannotRead(path: string, setting: string, err: unknown): PfsError {
  return new PfsError('PFS_ERR_CONFIG', `${setting}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}
