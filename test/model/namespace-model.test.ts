/**
 * Property test: random operation sequences over a few names (so names collide, directories
 * fill up, renames hit their own subtrees) run against src/volume/namespace and the reference
 * model (posix-model.ts) with four callers (root and three users sharing a group), comparing
 * every result and the final tree. Each shrunk failure found is kept below as a named test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { brief, runOps } from './namespace-harness.js';
import { LONG_TARGET, opsArb, rootModeArb } from './namespace-ops.js';

test('namespace matches the POSIX model on random operation sequences', () => {
  const out = fc.check(fc.property(opsArb, rootModeArb, (ops, rootMode) => runOps(ops, rootMode)), { numRuns: 1000 });
  if (out.failed) {
    const [ops, rootMode] = out.counterexample!;
    assert.fail(`seed ${out.seed}, shrunk counterexample (root mode 0o${rootMode.toString(8)}):\n[\n  ${ops.map(brief).join(',\n  ')},\n]\n${String(out.errorInstance)}`);
  }
});

// Regressions: shrunk counterexamples found by the property above, each fixed, kept as fixed lists.

test('regression: symlink with a too-long target under a missing directory is ENOENT (the path first)', () => {
  runOps([
    { op: 'symlink', c: 0, path: ['a', 'a'], target: LONG_TARGET },
    { op: 'setxattr', c: 1, path: ['a'], name: 'user.a', len: 0, flags: 0 },
  ]);
});

test('regression: rename with invalid flags under a missing directory is ENOENT (the path first)', () => {
  runOps([
    { op: 'rename', c: 1, from: ['a'], to: ['a', 'a'], flags: 3 },
    { op: 'setxattr', c: 1, path: ['a'], name: 'user.a', len: 0, flags: 0 },
  ]);
});

// Fixed scenarios of the rules most worth keeping an eye on, run through the same comparison.

test('scenario: unlink and rename-over while open on two mounts, then release and dropMount', () => {
  runOps([
    { op: 'create', c: 1, path: ['a'], mode: 0o644, umask: 0o022, flags: 2, mount: 'm1' },
    { op: 'open', c: 1, path: ['a'], flags: 0, mount: 'm2' },
    { op: 'create', c: 1, path: ['b'], mode: 0o644, umask: 0o022, flags: 2, mount: 'm1' },
    { op: 'write', k: 0, end: 700 },
    { op: 'rename', c: 1, from: ['b'], to: ['a'], flags: 0 },
    { op: 'unlink', c: 1, path: ['a'] },
    { op: 'release', k: 0 },
    { op: 'dropMount', mount: 'm2' },
    { op: 'dropMount', mount: 'm1' },
  ]);
});

test('scenario: directories moved into their own subtree, over empty and non-empty directories', () => {
  runOps([
    { op: 'mkdir', c: 0, path: ['a'], mode: 0o755, umask: 0 },
    { op: 'mkdir', c: 0, path: ['a', 'b'], mode: 0o755, umask: 0 },
    { op: 'mkdir', c: 0, path: ['c'], mode: 0o755, umask: 0 },
    { op: 'rename', c: 0, from: ['a'], to: ['a', 'b', 'x'], flags: 0 },
    { op: 'rename', c: 0, from: ['a', 'b'], to: ['.', 'a'], flags: 0 },
    { op: 'rename', c: 0, from: ['c'], to: ['a'], flags: 0 },
    { op: 'rename', c: 0, from: ['a', 'b'], to: ['c'], flags: 0 },
    { op: 'rename', c: 0, from: ['c'], to: ['a', 'c'], flags: 2 },
    { op: 'rmdir', c: 0, path: ['a'] },
  ]);
});

test('scenario: sticky and setgid directories with three users', () => {
  runOps([
    { op: 'mkdir', c: 1, path: ['a'], mode: 0o777, umask: 0 },
    { op: 'setattr', c: 1, path: ['a'], mode: 0o3777 },
    { op: 'create', c: 2, path: ['a', 'b'], mode: 0o2755, umask: 0o022, flags: 0, mount: 'm1' },
    { op: 'create', c: 3, path: ['a', 'c'], mode: 0o2755, umask: 0o022, flags: 0, mount: 'm1' },
    { op: 'mkdir', c: 3, path: ['a', 'a'], mode: 0o755, umask: 0 },
    { op: 'unlink', c: 3, path: ['a', 'b'] },
    { op: 'rename', c: 2, from: ['a', 'b'], to: ['a', 'c'], flags: 0 },
    { op: 'unlink', c: 1, path: ['a', 'b'] },
    { op: 'setattr', c: 3, path: ['a', 'c'], gid: 1000 },
  ], 0o1777);
});
