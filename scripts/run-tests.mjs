#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's test runner.
// Usage: node scripts/run-tests.mjs [--node=MAJOR] [substring-filter ...]
// --node=MAJOR runs them on that Node.js major version (scripts/node-runtime.mjs fetches and
// caches it when the machine lacks it); the daemons the tests start run on it too (PATH).
// When a selected file needs the test Swift (its name says swift or s3), the one-node Swift
// (scripts/swift-aio.sh) is started first and stopped, its data removed, at the end; set
// PFS_SWIFT_KEEP=1 to leave it running, PFS_TEST_SWIFT=0 to skip those tests instead.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const nodeMajor = args.find((a) => a.startsWith('--node='))?.slice('--node='.length);
const filters = args.filter((a) => !a.startsWith('--node='));
let node = process.execPath;
const env = { ...process.env };
if (nodeMajor) {
  const found = spawnSync(process.execPath, [new URL('./node-runtime.mjs', import.meta.url).pathname, nodeMajor], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (found.status !== 0) process.exit(1);
  node = found.stdout.trim();
  env.PATH = `${dirname(node)}:${env.PATH}`;
  console.log(`run-tests: on Node.js ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()} (${node})`);
}
const files = walk('dist').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.PFS_TEST_CONCURRENCY ?? '2';
const swiftScript = new URL('./swift-aio.sh', import.meta.url).pathname;
const needsSwift = process.env.PFS_TEST_SWIFT !== '0' && files.some((f) => /swift|s3/.test(f));
if (needsSwift) {
  const started = spawnSync('bash', [swiftScript, 'start'], { stdio: 'inherit' });
  if (started.status !== 0) {
    console.error('run-tests: the test Swift did not start (see above); PFS_TEST_SWIFT=0 skips the tests that need it');
    process.exit(1);
  }
}
const r = spawnSync(node, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { stdio: 'inherit', env });
if (needsSwift && process.env.PFS_SWIFT_KEEP !== '1') spawnSync('bash', [swiftScript, 'stop', '--purge'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
