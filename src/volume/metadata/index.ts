/**
 * The metadata store of one volume: a SQLite database (better-sqlite3, WAL, synchronous=FULL).
 * Parts: schema.ts (tables, migrations), this file (open, migrate, transactions, counters, time helpers).
 * Invariants: every change is made inside transaction(); a transaction that returns has been
 * fsynced (synchronous=FULL in WAL mode), so an acknowledged change survives kill -9 and power loss.
 * Everything here is synchronous: the volume server is single-threaded, so transactions are
 * serializable by construction.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PfsError } from '../../common/errors/index.js';
import type { Timespec } from '../../common/protocol/index.js';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import { sqliteOptions } from './sqlite-binding.js';

export type Db = Database.Database;

export interface Metadata {
  readonly db: Db;
  readonly path: string;
  /** Runs fn in a transaction (a savepoint when nested); commits when it returns, rolls back when it throws. */
  transaction<T>(fn: () => T): T;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Takes `count` consecutive values of a persistent counter; returns the first. */
  nextCounter(name: 'next_ino' | 'next_object_id', count?: number): number;
  isFormatted(): boolean;
  close(): void;
}

export function openMetadata(path: string, opts: { readonly?: boolean } = {}): Metadata {
  let db: Db;
  try {
    db = new Database(path, { ...sqliteOptions(), readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new PfsError('PFS_ERR_CONFIG', `cannot open metadata database ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!opts.readonly) {
    // Private, also a database made before pfs kept it so (its -wal and -shm follow its mode).
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch { /* not there yet, or not ours: as it is */ }
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = OFF');
    db.exec(SCHEMA_SQL);
  }
  db.pragma('busy_timeout = 5000');

  const getStmt = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  const setStmt = opts.readonly ? undefined : db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');

  const md: Metadata = {
    db,
    path,
    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
    getMeta(key) {
      return getStmt.get(key)?.value;
    },
    setMeta(key, value) {
      if (!setStmt) throw new PfsError('PFS_ERR_INTERNAL', 'metadata opened read-only');
      setStmt.run(key, value);
    },
    nextCounter(name, count = 1) {
      const first = Number(md.getMeta(name) ?? '1');
      md.setMeta(name, String(first + count));
      return first;
    },
    isFormatted() {
      return md.getMeta('schema_version') !== undefined;
    },
    close() {
      db.close();
    },
  };
  if (md.isFormatted()) {
    try {
      migrate(md, opts.readonly ?? false);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return md;
}

/**
 * Brings a formatted database to SCHEMA_VERSION (each step in one transaction with its version
 * bump). A read-only open accepts an older version as it is (its readers only use columns every
 * version has); a newer version is refused.
 */
function migrate(md: Metadata, readonly: boolean): void {
  const version = Number(md.getMeta('schema_version'));
  const known = Number.isSafeInteger(version) && version >= 1 && version <= SCHEMA_VERSION;
  if (!known) {
    throw new PfsError('PFS_ERR_CONFIG', `metadata database ${md.path} has schema version ${md.getMeta('schema_version')}, this proxyfsd knows ${SCHEMA_VERSION}`);
  }
  if (readonly) return;
  for (let v = version; v < SCHEMA_VERSION; v++) {
    const sql = MIGRATIONS[v];
    if (sql === undefined) throw new PfsError('PFS_ERR_INTERNAL', `no migration from schema version ${v}`);
    md.transaction(() => {
      md.db.exec(sql);
      md.setMeta('schema_version', String(v + 1));
    });
  }
}

export { SCHEMA_VERSION };

/** Nanoseconds since the epoch of a Timespec, exact, as BigInt. */
export function toNs(t: Timespec): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

/** The Timespec of int64 nanoseconds (number inputs are accepted but may have lost precision). */
export function fromNs(ns: bigint | number): Timespec {
  const b = typeof ns === 'bigint' ? ns : BigInt(Math.trunc(ns));
  let sec = b / 1_000_000_000n;
  let nsec = b % 1_000_000_000n;
  if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
  return { sec: Number(sec), nsec: Number(nsec) };
}
