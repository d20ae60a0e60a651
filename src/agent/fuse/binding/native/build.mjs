#!/usr/bin/env node
// Builds pfs_fuse_context.node (see pfs_fuse_context.c) with the system C
// compiler, against Node's own headers and the libfuse headers/library that
// fuse-native itself builds with (fuse-shared-library-linux). Offline, ~1 s.
// Usage: node src/agent/fuse/binding/native/build.mjs [--if-missing]
// Exits 0 without building on non-Linux hosts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// One addon from several parts (see pfs_fuse.h).
const sources = ['pfs_fuse_context.c', 'pfs_fuse_mounts.c', 'pfs_fuse_locks.c', 'pfs_fuse_dispatch.c', 'pfs_fuse_notify.c', 'pfs_fuse_pages.c'].map((f) => join(here, f));
const inputs = [...sources, join(here, 'pfs_fuse.h')];
const out = join(here, 'build', 'pfs_fuse_context.node');

if (process.platform !== 'linux') {
  console.log('pfs_fuse_context: not Linux, nothing to build');
  process.exit(0);
}
if (process.argv.includes('--if-missing') && existsSync(out) && inputs.every((f) => statSync(out).mtimeMs >= statSync(f).mtimeMs)) {
  process.exit(0);
}

const require = createRequire(join(here, '..', '..', '..', '..', '..', 'package.json'));
// fuse-native's own dependency; exports { lib, include } (libfuse 2.9 headers, libfuse.so.2 stub).
const { lib: fuseLib, include: fuseInclude } = require('fuse-shared-library-linux');
const nodeInclude = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  resolve(dirname(process.execPath), '..', 'include', 'node'),
].find((d) => d && existsSync(join(d, 'node_api.h')));
if (!nodeInclude) {
  console.error('pfs_fuse_context: node_api.h not found (set npm_config_nodedir)');
  process.exit(1);
}

mkdirSync(dirname(out), { recursive: true });
const args = [
  '-O2', '-g', '-Wall', '-Werror', '-fPIC', '-shared',
  '-DNODE_GYP_MODULE_NAME=pfs_fuse_context', '-D_FILE_OFFSET_BITS=64', '-D_LARGEFILE_SOURCE',
  '-I', nodeInclude, '-I', fuseInclude,
  '-o', out, ...sources,
  fuseLib, '-ldl', '-lpthread',
];
execFileSync(process.env.CC || 'cc', args, { stdio: 'inherit' });
console.log(`pfs_fuse_context: built ${out}`);
