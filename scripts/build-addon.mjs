// Builds a Node addon from C sources with the system compiler and Node's own headers, offline:
// the one build procedure of the project's addons (src/common/native/build.mjs,
// src/agent/fuse/binding/native/build.mjs). Not Linux: prints so and builds nothing.
// `--if-missing` on the command line: nothing is built while `out` is newer than every input.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * name: the module name (NODE_GYP_MODULE_NAME); sources, headers: absolute paths; out: the
 * .node file; link(): more compiler arguments (include dirs, defines, libraries; put after the
 * sources), asked only when a build is needed.
 */
export function buildAddon({ name, sources, headers, out, link = () => [] }) {
  if (process.platform !== 'linux') {
    console.log(`${name}: not Linux, nothing to build`);
    return;
  }
  const inputs = [...sources, ...headers];
  if (process.argv.includes('--if-missing') && existsSync(out) && inputs.every((f) => statSync(out).mtimeMs >= statSync(f).mtimeMs)) return;
  const nodeInclude = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    resolve(dirname(process.execPath), '..', 'include', 'node'),
  ].find((d) => d && existsSync(join(d, 'node_api.h')));
  if (!nodeInclude) {
    console.error(`${name}: node_api.h not found (set npm_config_nodedir)`);
    process.exit(1);
  }
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(process.env.CC || 'cc', [
    '-O2', '-g', '-Wall', '-Werror', '-fPIC', '-shared', `-DNODE_GYP_MODULE_NAME=${name}`,
    '-I', nodeInclude, '-o', out, ...sources, ...link(), // libraries after the sources that need them
  ], { stdio: 'inherit' });
  console.log(`${name}: built ${out}`);
}
