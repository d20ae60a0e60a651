/**
 * Unmount at shutdown: `fusermount -u` while the mount is busy is retried every delayMs up to
 * `attempts` times (FUSEUnMountRetryDelay / FUSEUnMountRetryCap); after that a lazy unmount
 * detaches it anyway.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../../common/rpc/index.js';
import { isMounted, type FuseMount } from './binding/index.js';

export async function unmountWithRetry(fuse: Pick<FuseMount, 'mountPoint' | 'unmount'>, opts: { delayMs: number; attempts: number; log: Logger }): Promise<void> {
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    if (!(await isMounted(fuse.mountPoint))) break;
    const err = await new Promise<string | null>((res) => execFile('fusermount', ['-u', fuse.mountPoint], (e, _o, stderr) => res(e ? (stderr || e.message).trim() : null)));
    if (err === null) break;
    if (attempt === 1 || attempt % 50 === 0) opts.log.warn({ attempt, err }, 'mount point busy; retrying unmount');
    await new Promise((r) => setTimeout(r, opts.delayMs));
  }
  if (await isMounted(fuse.mountPoint)) opts.log.warn({}, 'unmount retries exhausted: detaching lazily');
  await fuse.unmount().catch((err) => opts.log.debug({ err: (err as Error).message }, 'fuse-native unmount'));
}
