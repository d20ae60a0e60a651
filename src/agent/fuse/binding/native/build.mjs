#!/usr/bin/env node
// Builds the binding's two addons with the system C compiler, against Node's own headers and
// the libfuse headers/library that fuse-native itself builds with (fuse-shared-library-linux).
// Offline, ~1 s each.
//   pfs_fuse_context.node  what fuse-native's high-level session lacks (see pfs_fuse_context.c)
//   pfs_fuse_ll.node       the inode-based (low-level) session (pfs_fuse_ll*.c, see pfs_fuse_ll.h)
// Usage: node src/agent/fuse/binding/native/build.mjs [--if-missing]
// Exits 0 without building on non-Linux hosts.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../../../scripts/build-addon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const link = () => {
  const require = createRequire(join(here, '..', '..', '..', '..', '..', 'package.json'));
  // fuse-native's own dependency; exports { lib, include } (libfuse 2.9 headers, libfuse.so.2 stub).
  const { lib: fuseLib, include: fuseInclude } = require('fuse-shared-library-linux');
  return ['-D_FILE_OFFSET_BITS=64', '-D_LARGEFILE_SOURCE', '-I', fuseInclude, fuseLib, '-ldl', '-lpthread'];
};
buildAddon({
  name: 'pfs_fuse_context',
  // One addon from several parts (see pfs_fuse.h).
  sources: ['pfs_fuse_context.c', 'pfs_fuse_mounts.c', 'pfs_fuse_locks.c', 'pfs_fuse_dispatch.c', 'pfs_fuse_notify.c', 'pfs_fuse_pages.c'].map((f) => join(here, f)),
  headers: [join(here, 'pfs_fuse.h'), join(here, 'pfs_fuse_init_reply.h')],
  out: join(here, 'build', 'pfs_fuse_context.node'),
  link,
});
buildAddon({
  name: 'pfs_fuse_ll',
  sources: ['pfs_fuse_ll.c', 'pfs_fuse_ll_ops.c', 'pfs_fuse_ll_reply.c', 'pfs_fuse_ll_notify.c', 'pfs_fuse_ll_chan.c'].map((f) => join(here, f)),
  headers: [join(here, 'pfs_fuse_ll.h'), join(here, 'pfs_fuse_init_reply.h')],
  out: join(here, 'build', 'pfs_fuse_ll.node'),
  link,
});
