// Where the pfs package lives, for native addons built under src/ (used from src/ and dist/ alike).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pfs package root (the same from src/ under tsx and from dist/), or null. */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pfs') return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
