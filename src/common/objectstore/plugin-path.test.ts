import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolvePlugInPath } from './open.js';

const refused = (name: string, why: RegExp) => assert.throws(() => resolvePlugInPath(name), (err: { code?: string; message: string }) => {
  assert.equal(err.code, 'PFS_ERR_CONFIG');
  assert.match(err.message, why);
  return true;
});

test('a bare plug-in name is one of pfs\'s own, never looked up on PATH; other names must be absolute', () => {
  const planted = mkdtempSync(path.join(tmpdir(), 'pfs-path-'));
  const oldPath = process.env.PATH;
  try {
    writeFileSync(path.join(planted, 'pfsagentd-swift-auth-plugin'), '#!/bin/sh\n', { mode: 0o755 });
    process.env.PATH = `${planted}:${oldPath}`;
    assert.match(resolvePlugInPath('pfsagentd-swift-auth-plugin'), /\/bin\/pfsagentd-swift-auth-plugin$/);
    assert.ok(!resolvePlugInPath('pfsagentd-swift-auth-plugin').startsWith(planted), 'not the one planted on PATH');
    refused('no-such-plugin', /cannot be found/);
    refused('plugins/x.sh', /is relative/);
  } finally {
    process.env.PATH = oldPath;
    rmSync(planted, { recursive: true, force: true });
  }
});

test('an absolute plug-in must be writable by its owner only, owned by root or us, in a directory likewise (or sticky)', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pfs-plugin-'));
  const plugin = path.join(dir, 'plugin.sh');
  try {
    writeFileSync(plugin, '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(resolvePlugInPath(plugin), plugin);
    chmodSync(plugin, 0o775);
    refused(plugin, /writable by its group or by everyone \(mode 775\)/);
    chmodSync(plugin, 0o755);
    chownSync(plugin, 65534, 65534);
    refused(plugin, /belongs to uid 65534/);
    chownSync(plugin, 0, 0);
    chmodSync(dir, 0o777);
    refused(plugin, /directory .* is writable by its group or by everyone/);
    chmodSync(dir, 0o1777);
    assert.equal(resolvePlugInPath(plugin), plugin, 'a sticky directory (like /tmp) is fine');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
