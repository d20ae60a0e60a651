import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FS_ERROR_CODES, PFS_ERROR_CODES, FsError, PfsError, toWireError, fromWireError } from './index.js';

const repo = resolve(import.meta.dirname, '../../..', import.meta.dirname.includes('/dist/') ? '..' : '.');

test('every error code is documented in docs/ERRORS.md', () => {
  const doc = readFileSync(resolve(repo, 'docs/ERRORS.md'), 'utf8');
  for (const code of [...FS_ERROR_CODES, ...PFS_ERROR_CODES]) assert.ok(doc.includes(`| \`${code}\` |`), `${code} missing from docs/ERRORS.md`);
});

test('errors round-trip through the wire shape', () => {
  const fs = fromWireError(toWireError(new FsError('ENOENT', 'no x')));
  assert.equal(fs.code, 'ENOENT');
  assert.match(fs.message, /no x/);
  assert.equal(fromWireError(toWireError(new PfsError('PFS_ERR_CONFIG', 'bad'))).code, 'PFS_ERR_CONFIG');
  assert.equal(toWireError(new TypeError('boom')).code, 'PFS_ERR_INTERNAL');
  assert.equal(fromWireError({ code: 'WHAT', message: 'x' }).code, 'PFS_ERR_INTERNAL');
});
