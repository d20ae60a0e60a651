#!/usr/bin/env node
// Builds pfs_native.node (see pfs_native.h) with the system C compiler and
// Node's own headers. Offline, well under a second.
// Usage: node src/common/native/build.mjs [--if-missing]
// Builds nothing on non-Linux hosts (page-cache.ts and the checksum module then fall back).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../scripts/build-addon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
buildAddon({
  name: 'pfs_native',
  sources: ['module.c', 'pagecache.c', 'crc.c', 'sockdiag.c'].map((f) => join(here, f)),
  headers: [join(here, 'pfs_native.h')],
  out: join(here, 'build', 'pfs_native.node'),
});
