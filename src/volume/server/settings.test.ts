import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../common/config/index.js';
import { volumeServerSchema } from '../config-schema.js';
import { rpcServerSettingsFromConfig } from './settings.js';

test('[RPCServer] TLS keys: CertFilePath and KeyFilePath together; ClientCAFilePath only with them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-settings-'));
  try {
    const conf = join(dir, 'p.conf');
    writeFileSync(conf, `[Volume:V]\nMetadataPath: ${join(dir, 'm.db')}\nObjectStoreURL: file://${dir}/o\n`, { mode: 0o600 });
    const settings = (...overrides: string[]) => rpcServerSettingsFromConfig(loadConfig(volumeServerSchema, conf, overrides));
    assert.equal(settings().clientCaFilePath, undefined);
    const s = settings('RPCServer.CertFilePath=/c.crt', 'RPCServer.KeyFilePath=/c.key', 'RPCServer.ClientCAFilePath=/ca.crt');
    assert.deepEqual([s.certFilePath, s.keyFilePath, s.clientCaFilePath], ['/c.crt', '/c.key', '/ca.crt']);
    assert.throws(() => settings('RPCServer.CertFilePath=/c.crt'), /CertFilePath and KeyFilePath go together/);
    assert.throws(() => settings('RPCServer.KeyFilePath=/c.key'), /CertFilePath and KeyFilePath go together/);
    assert.throws(() => settings('RPCServer.ClientCAFilePath=/ca.crt'), /ClientCAFilePath needs TLS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
