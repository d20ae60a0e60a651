/**
 * The SQLite schema of one volume. Times are stored as int64 nanoseconds since the epoch
 * (read with safeIntegers / BigInt where exactness matters, see time helpers in metadata/index.ts).
 * SCHEMA_SQL creates a database of the current version; MIGRATIONS bring an older formatted
 * database up to it, one version at a time, when it is opened for writing. A proxyfsd refuses
 * a database newer than it knows.
 */
export const SCHEMA_VERSION = 4;

/** migrations[v] turns a version-v database into version v+1 (run in one transaction with the version bump). */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  // 1 -> 2: mounts evicted for leaving a lease interrupt unanswered (docs/LEASES.md §3).
  1: 'ALTER TABLE mounts ADD COLUMN evicted_ns INTEGER;',
  // 2 -> 3: provisioned objects owned by the mount they were handed to (issue 20); rows from
  // before have no owner and keep expiring ProvisionedObjectTTL after they were provisioned.
  2: 'ALTER TABLE objects ADD COLUMN mount_id TEXT;',
  // 3 -> 4: each mount bound to the authenticated peer that made it (docs/SECURITY.md §3);
  // mounts from before are bound to the first peer that uses their client ID.
  3: 'ALTER TABLE mounts ADD COLUMN owner TEXT;',
};

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- One row per inode. type is the S_IFMT part of mode, kept separately for indexing.
CREATE TABLE IF NOT EXISTS inodes (
  ino       INTEGER PRIMARY KEY,
  mode      INTEGER NOT NULL,      -- type bits | permission bits
  nlink     INTEGER NOT NULL,
  uid       INTEGER NOT NULL,
  gid       INTEGER NOT NULL,
  rdev      INTEGER NOT NULL DEFAULT 0,
  size      INTEGER NOT NULL DEFAULT 0,
  atime_ns  INTEGER NOT NULL,
  mtime_ns  INTEGER NOT NULL,
  ctime_ns  INTEGER NOT NULL,
  crtime_ns INTEGER NOT NULL,
  target    BLOB,                  -- symlink target
  next_cookie INTEGER NOT NULL DEFAULT 3  -- directories: next readdir cookie (1 and 2 are . and ..)
) STRICT;

-- Directory entries. cookie orders readdir and never changes while the entry exists.
CREATE TABLE IF NOT EXISTS dirents (
  parent INTEGER NOT NULL,
  name   TEXT NOT NULL,
  ino    INTEGER NOT NULL,
  cookie INTEGER NOT NULL,
  PRIMARY KEY (parent, name)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS dirents_by_cookie ON dirents(parent, cookie);
CREATE INDEX IF NOT EXISTS dirents_by_ino ON dirents(ino);

CREATE TABLE IF NOT EXISTS xattrs (
  ino   INTEGER NOT NULL,
  name  TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (ino, name)
) STRICT, WITHOUT ROWID;

-- Extent maps: [file_offset, file_offset+length) of ino reads object_id at object_offset.
-- Extents of one inode never overlap.
CREATE TABLE IF NOT EXISTS extents (
  ino           INTEGER NOT NULL,
  file_offset   INTEGER NOT NULL,
  length        INTEGER NOT NULL,
  object_id     INTEGER NOT NULL,
  object_offset INTEGER NOT NULL,
  PRIMARY KEY (ino, file_offset)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS extents_by_object ON extents(object_id);

-- Log-segment objects. state: 'provisioned' (number handed out, no extent yet), 'live', 'dead'
-- (no live bytes; queued for deletion from the object store after commit).
-- A provisioned object handed to a mount has its mount_id: it never expires while that mount
-- is live; when the mount ends (unmount, grace period, eviction) mount_id becomes NULL and
-- created_ns the end, so ProvisionedObjectTTL counts from then. The compactor's own objects
-- have no mount and expire ProvisionedObjectTTL after created_ns.
CREATE TABLE IF NOT EXISTS objects (
  object_id        INTEGER PRIMARY KEY,
  state            TEXT NOT NULL,
  size_bytes       INTEGER NOT NULL DEFAULT 0,
  live_bytes       INTEGER NOT NULL DEFAULT 0,
  block_size_bytes INTEGER NOT NULL DEFAULT 0,
  crc32            BLOB,            -- uint32 LE per block
  created_ns       INTEGER NOT NULL,
  dead_since_ns    INTEGER,
  mount_id         TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS objects_by_state ON objects(state);

-- Mounts and their open files. evicted_ns is set when the mount was evicted (it left a lease
-- interrupt unanswered); the row stays, so every later request with its ID is refused.
-- owner is the key of the authenticated peer that made the mount (uid:N, cert:…): only that
-- peer may use the mount's client ID, also after a restart (docs/SECURITY.md §3).
CREATE TABLE IF NOT EXISTS mounts (
  mount_id   TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  evicted_ns INTEGER,
  owner      TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS opens (
  mount_id TEXT NOT NULL,
  ino      INTEGER NOT NULL,
  count    INTEGER NOT NULL,
  PRIMARY KEY (mount_id, ino)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS opens_by_ino ON opens(ino);

-- Replies of mutating RPCs, written in the same transaction as the change they report.
CREATE TABLE IF NOT EXISTS rpc_replies (
  client_id  TEXT NOT NULL,
  request_id INTEGER NOT NULL,
  reply      TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY (client_id, request_id)
) STRICT, WITHOUT ROWID;
`;
