import { test } from 'node:test';
import assert from 'node:assert/strict';

import { assertHardRemoveSupported } from './fuse-mount.js';
import { buildMountOptions, formatOptionArg } from './mount-options.js';
import { guardOps, toFuseNativeTimeout, toReplyCode } from './op-guard.js';
import type { FuseOps } from './types.js';

test('defaults: big_writes, max_write=128 KiB, auto_unmount', () => {
  assert.deepEqual(buildMountOptions(), ['auto_unmount', 'big_writes', 'max_write=131072']);
});

test('every option maps to its libfuse 2.9 name, zeros included', () => {
  const opts = buildMountOptions({
    fsname: 'pfs:vol1',
    subtype: 'pfs',
    allowOther: true,
    defaultPermissions: true,
    autoUnmount: false,
    maxReadBytes: 131072,
    maxReadaheadBytes: 131072,
    maxBackground: 64,
    congestionThreshold: 48,
    attrTimeoutMs: 0,
    entryTimeoutMs: 1500,
    negativeTimeoutMs: 250,
    useIno: true,
    atomicOTrunc: true,
  });
  assert.deepEqual(opts, [
    'fsname=pfs:vol1', 'subtype=pfs', 'allow_other', 'default_permissions', 'big_writes',
    'max_write=131072', 'max_read=131072', 'max_readahead=131072', 'max_background=64',
    'congestion_threshold=48', 'attr_timeout=0', 'entry_timeout=1.5', 'negative_timeout=0.25',
    'use_ino', 'atomic_o_trunc',
  ]);
  assert.equal(formatOptionArg(opts).slice(0, 22), '-ofsname=pfs:vol1,subt');
});

test('refuses what libfuse would refuse or fuse-native would truncate', () => {
  assert.throws(() => buildMountOptions({ fsname: 'a,b' }), RangeError);
  assert.throws(() => buildMountOptions({ subtype: 'x y' }), RangeError);
  assert.throws(() => buildMountOptions({ maxWriteBytes: (1 << 20) + 4096 }), /max_write/);
  assert.throws(() => buildMountOptions({ maxWriteBytes: 131072 + 100 }), /multiple of 4096/);
  assert.deepEqual(buildMountOptions({ maxWriteBytes: 1 << 20 }), ['auto_unmount', 'big_writes', 'max_write=1048576']);
  assert.throws(() => buildMountOptions({ maxBackground: 0 }), RangeError);
  assert.throws(() => buildMountOptions({ attrTimeoutMs: -1 }), RangeError);
  assert.throws(() => buildMountOptions({ maxBackground: 8, congestionThreshold: 9 }), /congestion/);
  assert.throws(() => formatOptionArg(Array.from({ length: 100 }, () => 'default_permissions')), /truncates/);
  assert.equal(formatOptionArg([]), '');
});

test('timeouts: false disables, per-op tables name every op', () => {
  assert.equal(toFuseNativeTimeout({ defaultMs: false }), false);
  assert.equal(toFuseNativeTimeout({ defaultMs: 30_000 }), 30_000);
  const table = toFuseNativeTimeout({ defaultMs: false, perOpMs: { read: 5000 } });
  assert.ok(typeof table === 'object' && table);
  assert.equal(table.read, 5000);
  assert.equal(table.write, false);
  assert.equal(table.default, undefined);
  assert.throws(() => toFuseNativeTimeout({ defaultMs: 0 }), RangeError);
  assert.throws(() => toFuseNativeTimeout({ defaultMs: 2 ** 31 }), RangeError);
});

test('reply codes: null is success, positive errno is negated, junk is EIO', () => {
  const seen: string[] = [];
  const report = (op: string) => void seen.push(op);
  assert.equal(toReplyCode('getattr', null, undefined, report), 0);
  assert.equal(toReplyCode('getattr', 2, undefined, report), -2);
  assert.equal(toReplyCode('getattr', -2, undefined, report), -2);
  assert.equal(toReplyCode('read', 4096, 4096, report), 4096);
  assert.equal(toReplyCode('read', 4097, 4096, report), -5);
  assert.equal(toReplyCode('open', new Error('x'), undefined, report), -5);
  assert.deepEqual(seen, ['read', 'open']);
});

test('guardOps answers once, turns a throw into EIO', () => {
  const errors: string[] = [];
  const ops: FuseOps = {
    unlink: (_p, done) => {
      done(0);
      done(0);
    },
    rmdir: () => {
      throw new Error('boom');
    },
  };
  const g = guardOps(ops, (op, err) => errors.push(`${op}: ${(err as Error).message}`));
  const replies: number[] = [];
  g.unlink!('/a', (code) => replies.push(code));
  g.rmdir!('/d', (code) => replies.push(code));
  assert.deepEqual(replies, [0, -5]);
  assert.deepEqual(errors, ['unlink: unlink replied twice', 'rmdir: boom']);
});

test('hardRemove: hard_remove option, refused without the NULL-path addon', () => {
  assert.deepEqual(buildMountOptions({ hardRemove: true }), ['auto_unmount', 'big_writes', 'max_write=131072', 'hard_remove']);
  assert.throws(() => assertHardRemoveSupported(null), /not built/);
  assert.throws(() => assertHardRemoveSupported({}), /rebuild/);
  assertHardRemoveSupported({ nullPathOk: true });
});
