/**
 * Test support for the namespace's unit tests: an in-memory volume, a stepping clock, a
 * FileData that records its calls, a few callers, and every namespace call in its own
 * transaction (as the RPC server runs them).
 */
import assert from 'node:assert/strict';
import type { Cred, Ino, Timespec } from '../../common/protocol/index.js';
import { fromNs, openMetadata, type Metadata } from '../metadata/index.js';
import { createNamespace, formatNamespace, type FileData, type Namespace } from './index.js';

export const ROOT: Cred = { uid: 0, gid: 0, groups: [] };
export const ALICE: Cred = { uid: 1000, gid: 1000, groups: [1000] };
export const BOB: Cred = { uid: 1001, gid: 1001, groups: [1001, 1000] };
export const CAROL: Cred = { uid: 1002, gid: 1002, groups: [] };

export interface RecordingFileData extends FileData {
  calls: string[];
  used: number;
}

export function recordingFileData(): RecordingFileData {
  const fd: RecordingFileData = {
    calls: [],
    used: 0,
    truncate(ino: Ino, oldSize: number, newSize: number) { fd.calls.push(`truncate ${ino} ${oldSize} ${newSize}`); },
    drop(ino: Ino) { fd.calls.push(`drop ${ino}`); },
    usedBytes() { return fd.used; },
  };
  return fd;
}

export interface Fixture {
  md: Metadata;
  ns: Namespace;
  fileData: RecordingFileData;
  /** The clock's next reading (each call of now() advances it by one microsecond). */
  peekNow(): Timespec;
}

export function makeFixture(rootMode = 0o777): Fixture {
  const md = openMetadata(':memory:');
  let ns = 1_700_000_000_000_000_000n;
  const now = () => fromNs((ns += 1000n));
  const fileData = recordingFileData();
  formatNamespace(md, { uid: 0, gid: 0, mode: rootMode }, now());
  const raw = createNamespace(md, { now, fileData });
  const wrapped = Object.fromEntries(Object.entries(raw).map(([k, fn]) => [
    k, (...args: unknown[]) => md.transaction(() => (fn as (...a: unknown[]) => unknown)(...args)),
  ])) as unknown as Namespace;
  return { md, ns: wrapped, fileData, peekNow: () => fromNs(ns + 1000n) };
}

/** Asserts that fn throws an error with this code. */
export function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, String(err));
    return true;
  });
}
