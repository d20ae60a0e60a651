#!/usr/bin/env node
// Builds pfs_native.node (see pfs_native.h) with the system C compiler and
// Node's own headers. Offline, well under a second.
// Usage: node src/common/native/build.mjs [--if-missing]
// Exits 0 without building on non-Linux hosts (page-cache.ts and crc.ts then report it missing).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sources = ['module.c', 'pagecache.c', 'crc.c'].map((f) => join(here, f));
const inputs = [...sources, join(here, 'pfs_native.h')];
const out = join(here, 'build', 'pfs_native.node');

if (process.platform !== 'linux') {
  console.log('pfs_native: not Linux, nothing to build');
  process.exit(0);
}
if (process.argv.includes('--if-missing') && existsSync(out) && inputs.every((f) => statSync(out).mtimeMs >= statSync(f).mtimeMs)) process.exit(0);

const nodeInclude = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  resolve(dirname(process.execPath), '..', 'include', 'node'),
].find((d) => d && existsSync(join(d, 'node_api.h')));
if (!nodeInclude) {
  console.error('pfs_native: node_api.h not found (set npm_config_nodedir)');
  process.exit(1);
}
mkdirSync(dirname(out), { recursive: true });
execFileSync(process.env.CC || 'cc', [
  '-O2', '-g', '-Wall', '-Werror', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=pfs_native',
  '-I', nodeInclude, '-o', out, ...sources,
], { stdio: 'inherit' });
console.log(`pfs_native: built ${out}`);
