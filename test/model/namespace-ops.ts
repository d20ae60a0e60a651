/**
 * The random operations of the model test: few names (so they collide), four callers, modes
 * that exercise sticky, setgid and set-id bits, and the odd invalid name or flag.
 */
import fc from 'fast-check';
import type { Op } from './namespace-harness.js';

export const LONG_NAME = 'n'.repeat(256);
export const LONG_TARGET = 't'.repeat(4096);
export const LONG_XATTR = 'user.' + 'x'.repeat(251);

const NAMES = ['a', 'b', 'c'];
const comp = fc.constantFrom(...NAMES);
const lastComp = fc.oneof(
  { arbitrary: comp, weight: 15 },
  { arbitrary: fc.constantFrom('.', '..', '', LONG_NAME), weight: 1 },
);
const dirs = fc.oneof(
  { arbitrary: fc.constant([] as string[]), weight: 4 },
  { arbitrary: fc.tuple(comp), weight: 3 },
  { arbitrary: fc.tuple(comp, comp), weight: 1 },
);
const path = fc.tuple(dirs, lastComp).map(([dirs, last]) => [...dirs, last]);
const cred = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.constantFrom(1, 2, 3), weight: 2 });
const mount = fc.constantFrom('m1', 'm2');
const dirMode = fc.constantFrom(0o777, 0o755, 0o700, 0o1777, 0o2777, 0o555, 0o000, 0o3777);
const fileMode = fc.constantFrom(0o644, 0o666, 0o600, 0o4755, 0o2755, 0o2745, 0o000, 0o444);
const accFlags = fc.tuple(fc.constantFrom(0, 1, 2), fc.boolean()).map(([acc, trunc]) => acc | (trunc ? 0o1000 : 0));
const xname = fc.oneof(
  { arbitrary: fc.constantFrom('user.a', 'user.b', 'trusted.t', 'security.s'), weight: 6 },
  { arbitrary: fc.constantFrom('system.x', 'user.', LONG_XATTR), weight: 1 },
);
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  w(5, fc.record({ op: fc.constant('mkdir' as const), c: cred, path, mode: dirMode, umask: fc.constantFrom(0, 0o022, 0o077) })),
  w(5, fc.record({ op: fc.constant('create' as const), c: cred, path, mode: fileMode, umask: fc.constantFrom(0, 0o022, 0o077), flags: fc.tuple(accFlags, fc.boolean()).map(([f, excl]) => f | (excl ? 0o200 : 0)), mount })),
  w(1, fc.record({ op: fc.constant('mknod' as const), c: cred, path, type: fc.constantFrom('fifo' as const, 'chr' as const), mode: fileMode })),
  w(1, fc.record({ op: fc.constant('symlink' as const), c: cred, path, target: fc.constantFrom('a', 'x/y', '', LONG_TARGET) })),
  w(2, fc.record({ op: fc.constant('link' as const), c: cred, from: path, to: path })),
  w(3, fc.record({ op: fc.constant('unlink' as const), c: cred, path })),
  w(2, fc.record({ op: fc.constant('rmdir' as const), c: cred, path })),
  w(6, fc.record({ op: fc.constant('rename' as const), c: cred, from: path, to: path, flags: fc.constantFrom(0, 0, 0, 0, 1, 2, 3) })),
  w(2, fc.record({ op: fc.constant('open' as const), c: cred, path, flags: accFlags, mount })),
  w(2, fc.record({ op: fc.constant('release' as const), k: fc.nat(7) })),
  w(1, fc.record({ op: fc.constant('write' as const), k: fc.nat(7), end: fc.constantFrom(1, 700, 5000) })),
  w(1, fc.record({ op: fc.constant('dropMount' as const), mount })),
  w(2, fc.record({ op: fc.constant('setattr' as const), c: cred, path, mode: fc.oneof(dirMode, fileMode) })),
  w(1, fc.record({ op: fc.constant('setattr' as const), c: cred, path, uid: fc.option(fc.constantFrom(0, 1000, 1001), { nil: undefined }), gid: fc.option(fc.constantFrom(0, 1000, 1001, 1002), { nil: undefined }) }, { requiredKeys: ['op', 'c', 'path'] })),
  w(1, fc.record({ op: fc.constant('setattr' as const), c: cred, path, size: fc.constantFrom(0, 5, 100) })),
  w(1, fc.record({ op: fc.constant('setattr' as const), c: cred, path, times: fc.constantFrom('now' as const, 'explicit' as const) })),
  w(2, fc.record({ op: fc.constant('setxattr' as const), c: cred, path, name: xname, len: fc.constantFrom(0, 1, 3, 65537), flags: fc.constantFrom(0, 1, 2, 4) })),
  w(1, fc.record({ op: fc.constantFrom('removexattr' as const, 'getxattr' as const), c: cred, path, name: xname })),
  w(1, fc.record({ op: fc.constantFrom('lookup' as const, 'readdir' as const), c: cred, path })),
  w(1, fc.record({ op: fc.constant('listxattr' as const), c: cred, path })),
  w(1, fc.record({ op: fc.constant('access' as const), c: cred, path, mask: fc.constantFrom(0, 1, 2, 4, 7, 8) })),
);


export const opsArb = fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' });
export const rootModeArb = fc.constantFrom(0o777, 0o1777, 0o2777, 0o755);
