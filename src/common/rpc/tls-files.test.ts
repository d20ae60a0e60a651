import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPemFile, readPrivateKeyFile } from './tls-files.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n';

test('a private key is read only when no group or other user may access it; errors name setting, file and mode, never the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-tls-files-'));
  try {
    const key = join(dir, 'agent.key');
    writeFileSync(key, KEY, { mode: 0o600 });
    chmodSync(key, 0o600);
    assert.equal(readPrivateKeyFile(key, '[Agent] RetryRPCKeyFilePath').toString(), KEY);
    for (const [mode, who] of [[0o640, 'its group'], [0o604, 'every user'], [0o660, 'its group'], [0o644, 'its group and every user'], [0o610, 'its group']] as const) {
      chmodSync(key, mode);
      assert.throws(() => readPrivateKeyFile(key, '[Agent] RetryRPCKeyFilePath'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PFS_ERR_CONFIG');
        assert.ok(err.message.includes(`[Agent] RetryRPCKeyFilePath: the private key ${key} is open to ${who} (mode 0${mode.toString(8)})`), err.message);
        assert.ok(!err.message.includes('c2VjcmV0'));
        return true;
      });
    }
    mkdirSync(join(dir, 'd'), { mode: 0o700 });
    assert.throws(() => readPrivateKeyFile(join(dir, 'd'), 'K'), /K: the private key .* is not a regular file/);
    assert.throws(() => readPrivateKeyFile(join(dir, 'none'), 'K'), /K: cannot read .*none: ENOENT/);
    assert.throws(() => readPemFile(join(dir, 'none'), '[RPCServer] ClientCAFilePath'), /\[RPCServer\] ClientCAFilePath: cannot read .*none: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
