import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openMetadata, SCHEMA_VERSION } from './index.js';
import { sqliteOptions } from './sqlite-binding.js';

/** A database as proxyfsd with schema version 1 left it (mounts without evicted_ns, objects without mount_id). */
function writeVersion1(path: string): void {
  const db = new Database(path, sqliteOptions());
  db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE mounts (mount_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, created_ns INTEGER NOT NULL) STRICT;
    CREATE TABLE objects (object_id INTEGER PRIMARY KEY, state TEXT NOT NULL, size_bytes INTEGER NOT NULL DEFAULT 0,
      live_bytes INTEGER NOT NULL DEFAULT 0, block_size_bytes INTEGER NOT NULL DEFAULT 0, crc32 BLOB,
      created_ns INTEGER NOT NULL, dead_since_ns INTEGER) STRICT;
    INSERT INTO meta VALUES ('schema_version', '1');
    INSERT INTO objects(object_id, state, created_ns) VALUES (7, 'provisioned', 9);
    INSERT INTO mounts VALUES ('m1', 'c1', 5);`);
  db.close();
}

test('a version 1 database opens: migrated to the current version, its rows kept; read-only opens leave it as it is', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-migrate-'));
  try {
    const path = join(dir, 'meta.db');
    writeVersion1(path);
    const ro = openMetadata(path, { readonly: true });
    assert.equal(ro.getMeta('schema_version'), '1');
    ro.close();
    const md = openMetadata(path);
    assert.equal(md.getMeta('schema_version'), String(SCHEMA_VERSION));
    assert.deepEqual(md.db.prepare('SELECT mount_id, client_id, evicted_ns FROM mounts').all(), [{ mount_id: 'm1', client_id: 'c1', evicted_ns: null }]);
    assert.deepEqual(md.db.prepare('SELECT object_id, state, created_ns, mount_id FROM objects').all(), [{ object_id: 7, state: 'provisioned', created_ns: 9, mount_id: null }]);
    md.close();
    const again = openMetadata(path);
    assert.equal(again.getMeta('schema_version'), String(SCHEMA_VERSION));
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database newer than this proxyfsd is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfs-migrate-'));
  try {
    const path = join(dir, 'meta.db');
    const md = openMetadata(path);
    md.setMeta('schema_version', String(SCHEMA_VERSION + 1));
    md.close();
    assert.throws(() => openMetadata(path), { code: 'PFS_ERR_CONFIG', message: new RegExp(`schema version ${SCHEMA_VERSION + 1}, this proxyfsd knows ${SCHEMA_VERSION}`) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
