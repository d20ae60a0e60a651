// Dropping written-once file data from the kernel's page cache (pagecache.c).
//
// Used by the local-directory object store for object files it has synced or
// read. Without the addon (not built, not Linux) nothing is dropped
// (dropPageCache resolves false); the store works the same, only with more
// page cache in use.

import { nativeAddon } from './addon.js';

/**
 * Asks the kernel to drop the page cache of fd's bytes [offset, offset + length) (length 0: to
 * the end), on the libuv pool. Clean pages go at once; dirty ones are not waited for (sync
 * first). Resolves true when dropped, false without the addon; a failing fadvise rejects.
 */
export function dropPageCache(fd: number, offset = 0, length = 0): Promise<boolean> {
  const a = nativeAddon();
  if (!a) return Promise.resolve(false);
  return new Promise((ok, fail) => {
    a.dropPageCache(fd, offset, length, (errno) => {
      if (errno === 0) ok(true);
      else fail(Object.assign(new Error(`posix_fadvise(DONTNEED) on fd ${fd}: errno ${errno}`), { errno }));
    });
  });
}
