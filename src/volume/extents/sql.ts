/** The prepared statements of the extents and objects tables (schema: volume/metadata/schema.ts). */
import type { Db } from '../metadata/index.js';

export interface ExtentRow {
  fileOffset: number;
  length: number;
  objectId: number;
  objectOffset: number;
}

export interface ObjectRow {
  objectId: number;
  /** The mount a provisioned object was handed to (null: nobody's, or its mount ended). */
  mountId: string | null;
  state: 'provisioned' | 'live' | 'dead';
  sizeBytes: number;
  liveBytes: number;
  blockSizeBytes: number;
  crc32: Buffer | null;
}

const EXTENT = 'file_offset AS fileOffset, length, object_id AS objectId, object_offset AS objectOffset';
const OBJECT = 'object_id AS objectId, mount_id AS mountId, state, size_bytes AS sizeBytes, live_bytes AS liveBytes, block_size_bytes AS blockSizeBytes, crc32';

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Db) {
  return {
    // extents
    atOrBefore: db.prepare<[number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset <= ? ORDER BY file_offset DESC LIMIT 1`),
    before: db.prepare<[number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset < ? ORDER BY file_offset DESC LIMIT 1`),
    at: db.prepare<[number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset = ?`),
    startingBetween: db.prepare<[number, number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset > ? AND file_offset < ? ORDER BY file_offset`),
    fromAnchor: db.prepare<[number, number, number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset >= ? AND file_offset < ? ORDER BY file_offset LIMIT ?`),
    beforeAnchor: db.prepare<[number, number, number, number], ExtentRow>(`SELECT ${EXTENT} FROM extents WHERE ino = ? AND file_offset < ? AND file_offset < ? ORDER BY file_offset DESC LIMIT ?`),
    insert: db.prepare<[number, number, number, number, number]>('INSERT INTO extents(ino, file_offset, length, object_id, object_offset) VALUES (?, ?, ?, ?, ?)'),
    remove: db.prepare<[number, number]>('DELETE FROM extents WHERE ino = ? AND file_offset = ?'),
    setLength: db.prepare<[number, number, number]>('UPDATE extents SET length = ? WHERE ino = ? AND file_offset = ?'),
    bytesFrom: db.prepare<[number, number], { objectId: number; bytes: number }>('SELECT object_id AS objectId, SUM(length) AS bytes FROM extents WHERE ino = ? AND file_offset >= ? GROUP BY object_id'),
    removeFrom: db.prepare<[number, number]>('DELETE FROM extents WHERE ino = ? AND file_offset >= ?'),
    ofObject: db.prepare<[number], ExtentRow & { ino: number }>(`SELECT ino, ${EXTENT} FROM extents WHERE object_id = ? ORDER BY object_offset, ino, file_offset`),
    referencesObject: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM extents WHERE object_id = ? LIMIT 1'),
    bytesByObject: db.prepare<[], { objectId: number; bytes: number; count: number }>('SELECT object_id AS objectId, SUM(length) AS bytes, COUNT(*) AS count FROM extents GROUP BY object_id'),
    unstoredBytes: db.prepare<[], { bytes: number }>('SELECT COALESCE(SUM(length), 0) AS bytes FROM extents WHERE object_id = 0'),
    allExtents: db.prepare<[], ExtentRow & { ino: number }>(`SELECT ino, ${EXTENT} FROM extents ORDER BY ino, file_offset`),
    // objects
    insertObject: db.prepare<[number, bigint, string | null]>("INSERT INTO objects(object_id, state, created_ns, mount_id) VALUES (?, 'provisioned', ?, ?)"),
    object: db.prepare<[number], ObjectRow>(`SELECT ${OBJECT} FROM objects WHERE object_id = ?`),
    allObjects: db.prepare<[], ObjectRow>(`SELECT ${OBJECT} FROM objects ORDER BY object_id`),
    register: db.prepare<[number, number, Buffer, number]>("UPDATE objects SET state = 'live', size_bytes = ?, block_size_bytes = ?, crc32 = ? WHERE object_id = ? AND state = 'provisioned'"),
    addLive: db.prepare<[number, number]>('UPDATE objects SET live_bytes = live_bytes + ? WHERE object_id = ?'),
    markDeadIfEmpty: db.prepare<[bigint, number]>("UPDATE objects SET state = 'dead', dead_since_ns = ? WHERE object_id = ? AND state = 'live' AND live_bytes = 0"),
    dead: db.prepare<[bigint, number], { objectId: number }>("SELECT object_id AS objectId FROM objects WHERE state = 'dead' AND dead_since_ns <= ? ORDER BY dead_since_ns, object_id LIMIT ?"),
    // Objects of a live mount never expire; a row whose mount row is gone (or evicted) without
    // disownProvisioned having run expires by its created_ns all the same.
    provisionedBefore: db.prepare<[bigint, number], { objectId: number }>(
      "SELECT object_id AS objectId FROM objects WHERE state = 'provisioned' AND created_ns <= ? " +
      'AND (mount_id IS NULL OR mount_id NOT IN (SELECT mount_id FROM mounts WHERE evicted_ns IS NULL)) ORDER BY created_ns, object_id LIMIT ?'),
    provisionedOf: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM objects WHERE state = 'provisioned' AND mount_id = ?"),
    disownOldest: db.prepare<[bigint, string, number]>(
      "UPDATE objects SET mount_id = NULL, created_ns = ? WHERE object_id IN " +
      "(SELECT object_id FROM objects WHERE state = 'provisioned' AND mount_id = ? ORDER BY object_id LIMIT ?)"),
    disownProvisioned: db.prepare<[bigint, string]>("UPDATE objects SET mount_id = NULL, created_ns = ? WHERE state = 'provisioned' AND mount_id = ?"),
    markDead: db.prepare<[bigint, number]>("UPDATE objects SET state = 'dead', dead_since_ns = ? WHERE object_id = ?"),
    forget: db.prepare<[number]>("DELETE FROM objects WHERE object_id = ? AND state = 'dead' AND live_bytes = 0"),
    candidates: db.prepare<[number, number], { objectId: number; sizeBytes: number; liveBytes: number }>(
      "SELECT object_id AS objectId, size_bytes AS sizeBytes, live_bytes AS liveBytes FROM objects WHERE state = 'live' AND size_bytes > 0 AND live_bytes > 0 AND live_bytes < ? * size_bytes ORDER BY CAST(live_bytes AS REAL) / size_bytes, object_id LIMIT ?"),
  };
}
