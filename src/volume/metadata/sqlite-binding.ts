// Which better-sqlite3 addon this runtime loads. better-sqlite3 is the one dependency that is not
// N-API: its build in node_modules serves only the Node.js that ran `npm ci`. For another runtime
// (the suite's second Node.js, scripts/node-runtime.mjs) a build for that runtime's ABI waits in
// the package's .cache/native/; this names it, and nothing when there is none.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { packageRoot } from '../../common/native/package-root.js';

let cached: Database.Options | undefined;

/** Options for `new Database()` that load the addon built for this runtime's ABI, if one was. */
export function sqliteOptions(): Database.Options {
  if (cached) return cached;
  cached = {};
  const root = packageRoot();
  if (root) {
    const require = createRequire(join(root, 'package.json'));
    const { version } = JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')) as { version: string };
    const built = join(root, '.cache', 'native', `better_sqlite3-${version}-abi${process.versions.modules}.node`);
    if (existsSync(built)) cached = { nativeBinding: built };
  }
  return cached;
}
