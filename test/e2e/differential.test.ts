/**
 * Differential test: random operation sequences (create, write at offsets, O_APPEND/O_TRUNC,
 * one open file across writes/reads/ftruncate/futimens, truncate, rename of files and
 * directories (over existing ones too), link, symlink, mkfifo, unlink, mkdir, rmdir, chmod,
 * chown, utimensat with explicit times, user.* xattrs) run by a python3 child process
 * (test/support/fsops.py) under a directory of a real pfs mount and under a plain directory on
 * the local disk. Every op's result (value or errno name) and the final trees (names, types,
 * sizes, content sha256, modes, owners, nlink, symlink targets, xattrs, and mtimes that were set
 * explicitly, to the millisecond that fuse-native shows) must be identical. Each shrunk failure
 * is kept below as a named regression case.
 *
 * Reproduce: make build && node --test dist/test/e2e/differential.test.js
 * Replay a failing run: PFS_DIFF_SEED=<seed> PFS_DIFF_PATH=<path> node --test dist/test/e2e/differential.test.js
 * More runs: PFS_DIFF_RUNS=500 (default 40).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { testBackend } from '../support/backends.js';
import { REPO, localTempDir, sh, startMount, type MountHandle } from '../support/agent.js';

const FSOPS = join(REPO, 'test/support/fsops.py');

type Op = { op: string } & Record<string, unknown>;
type Result = { ok?: unknown; err?: string };

let m: MountHandle;
/** A second mount on the other FUSE session (docs/AGENT.md), local backend only: both are checked. */
let other: MountHandle | undefined;
let plain: { dir: string; remove(): void };
let runNo = 0;

const OTHER_SESSION = process.env.PFS_TEST_FUSE_SESSION === 'highlevel' ? 'lowlevel' : 'highlevel';

before(async () => {
  m = await startMount();
  if (testBackend() === 'local') other = await startMount({ agentConf: { FUSESession: OTHER_SESSION } });
  plain = localTempDir('pfs-diff-plain-');
});

after(async () => {
  try {
    if (m) await m.cleanup();
    if (other) await other.cleanup();
  } finally {
    plain?.remove();
  }
});

async function runOps(root: string, ops: Op[]): Promise<{ results: Result[]; tree: Record<string, unknown> }> {
  const r = await sh(`python3 ${FSOPS} ops ${root}`, { input: JSON.stringify(ops), timeoutMs: 60_000 });
  const results = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Result);
  assert.equal(results.length, ops.length, `fsops printed ${results.length} results for ${ops.length} ops under ${root}\n${r.stderr}`);
  const t = await sh(`python3 ${FSOPS} tree ${root}`, { timeoutMs: 60_000 });
  return { results, tree: JSON.parse(t.stdout) as Record<string, unknown> };
}

/** Applies ops under a fresh directory of the mount and of the plain directory; asserts identical outcomes. */
async function compare(ops: Op[], on: MountHandle = m): Promise<void> {
  const n = runNo++;
  const onMount = join(on.mnt, 'diff', `run-${n}`);
  const onDisk = join(plain.dir, `run-${n}`);
  // PFS_DIFF_DUMP=FILE: each sequence is written there before it runs (the last one failed).
  if (process.env.PFS_DIFF_DUMP) writeFileSync(process.env.PFS_DIFF_DUMP, JSON.stringify(ops));
  const [got, want] = await Promise.all([runOps(onMount, ops), runOps(onDisk, ops)]);
  // A long sequence is shown by its last ops (replay it by seed and path).
  const shown = (upTo: number) => (upTo > 60 ? `ops #${upTo - 59}..#${upTo - 1}: ${JSON.stringify(ops.slice(upTo - 60, upTo))}` : `ops so far: ${JSON.stringify(ops.slice(0, upTo))}`);
  for (let i = 0; i < ops.length; i++) {
    assert.deepEqual(got.results[i], want.results[i],
      `op #${i} ${JSON.stringify(ops[i])}: pfs answered ${JSON.stringify(got.results[i])}, ` +
      `a plain directory ${JSON.stringify(want.results[i])}\n${shown(i + 1)}`);
  }
  assert.deepEqual(got.tree, want.tree, `final trees differ (pfs first, plain directory second)\n${shown(ops.length)}`);
}

// ---------------------------------------------------------------------------------------------
// the generator: few names, so ops collide (EEXIST, ENOTEMPTY, rename over, into own subtree)

const NAMES = ['a', 'b', 'c', 'd'];
const pathArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...NAMES)).map((p) => p.join('/')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...NAMES), fc.constantFrom(...NAMES)).map((p) => p.join('/')) },
);
const modeArb = fc.constantFrom(0o755, 0o700, 0o644, 0o600, 0o444, 0o000, 0o1777, 0o2755, 0o4755);
const seedArb = fc.integer({ min: 0, max: 1_000_000 });
const offArb = fc.oneof(fc.constantFrom(0, 1, 4095, 4096, 65536, 131071, 131072, 1 << 20), fc.integer({ min: 0, max: 300_000 }));
const lenArb = fc.oneof(fc.constantFrom(0, 1, 4096, 131072, 131073), fc.integer({ min: 0, max: 150_000 }));
const xnameArb = fc.constantFrom('user.a', 'user.b');
const secArb = fc.integer({ min: 1_000_000_000, max: 1_400_000_000 }); // before 2015: fsops.py tells them from "recent"
const nsecArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 }));
const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constant('w'), offArb, lenArb, seedArb) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('a'), lenArb, seedArb) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('t'), offArb) },
  { weight: 3, arbitrary: fc.tuple(fc.constant('r'), offArb, lenArb) },
  { weight: 1, arbitrary: fc.constant(['s']) },
  { weight: 1, arbitrary: fc.constant(['f']) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('u'), secArb, nsecArb) },
  { weight: 1, arbitrary: fc.constant(['m']) },
);

/** Steps through a descriptor held across other ops: the fdseq steps, and fstat, fchmod, fsetxattr. */
const fdStepArb = fc.oneof(
  { weight: 6, arbitrary: stepArb },
  { weight: 2, arbitrary: fc.constant(['st']) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('ch'), modeArb) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('x'), xnameArb, fc.integer({ min: 0, max: 100 }), seedArb) },
);
const slotArb = fc.integer({ min: 0, max: 2 });

/** Descriptors held across the other ops, while names change under them (issue 21). */
const heldArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('open'), slot: slotArb, path: pathArb, acc: fc.constantFrom('rw', 'r'), flags: fc.subarray(['creat', 'trunc', 'append']) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('fd'), slot: slotArb, step: fdStepArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close'), slot: slotArb }) },
) as fc.Arbitrary<Op>;

/** Ops by name, and one open file at a time (fdseq). */
const byNameArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('create'), path: pathArb, mode: modeArb, excl: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write'), path: pathArb, off: offArb, len: lenArb, seed: seedArb, flags: fc.subarray(['creat', 'append', 'trunc']) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('fdseq'), path: pathArb, flags: fc.subarray(['creat', 'trunc']), steps: fc.array(stepArb, { minLength: 1, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate'), path: pathArb, size: offArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('rename'), from: pathArb, to: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('link'), from: pathArb, to: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('symlink'), target: pathArb, path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('unlink'), path: pathArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mkdir'), path: pathArb, mode: modeArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rmdir'), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('chmod'), path: pathArb, mode: modeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('chown'), path: pathArb, uid: fc.constantFrom(0, 1000, 1001), gid: fc.constantFrom(0, 1000, 1002), follow: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('utime'), path: pathArb, sec: secArb, nsec: nsecArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mkfifo'), path: pathArb, mode: modeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setxattr'), path: pathArb, name: xnameArb, len: fc.integer({ min: 0, max: 200 }), seed: seedArb, flags: fc.constantFrom(0, 0, 1, 2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removexattr'), path: pathArb, name: xnameArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('stat', 'readdir', 'listxattr', 'readlink'), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('getxattr'), path: pathArb, name: xnameArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('read'), path: pathArb, off: offArb, len: lenArb }) },
) as fc.Arbitrary<Op>;

/** Every random sequence starts from this tree, so that most ops find something to act on. */
const SETUP: Op[] = [
  { op: 'mkdir', path: 'a', mode: 0o755 },
  { op: 'mkdir', path: 'b', mode: 0o755 },
  { op: 'mkdir', path: 'a/b', mode: 0o755 },
  { op: 'write', path: 'c', off: 0, len: 70_000, seed: 1, flags: ['creat'] },
  { op: 'write', path: 'a/a', off: 4096, len: 5000, seed: 2, flags: ['creat'] },
  { op: 'write', path: 'b/c', off: 0, len: 200_000, seed: 3, flags: ['creat'] },
  { op: 'link', from: 'b/c', to: 'a/c' },
];
/** Everything; the path-based session (highlevel) gets byNameArb only: a descriptor there follows its name (docs/SEMANTICS.md). */
const opArb: fc.Arbitrary<Op> = fc.oneof({ weight: 8, arbitrary: heldArb }, { weight: 32, arbitrary: byNameArb });
const opsArb = fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }).map((ops) => [...SETUP, ...ops]);
const byNameOpsArb = fc.array(byNameArb, { minLength: 1, maxLength: 40, size: 'max' }).map((ops) => [...SETUP, ...ops]);

// ---------------------------------------------------------------------------------------------
// Named cases: shrunk failures of the property above (kept as fixed lists once found), and
// hand-written scenarios of the data path rules most worth keeping an eye on.

const REGRESSIONS: { name: string; ops: Op[]; repeat?: number }[] = [
  {
    // Found by programs.test.ts (cp -a and tar -x set mtime with futimens before close).
    name: 'regression: futimens after a write and before close is kept (the flush at close must not overwrite it)',
    ops: [
      { op: 'fdseq', path: 'a', flags: ['creat'], steps: [['w', 0, 100, 1], ['u', 1_000_000_000, 5], ['m'], ['w', 100, 10, 2], ['u', 1_100_000_000, 0]] },
      { op: 'stat', path: 'a' },
      { op: 'fdseq', path: 'a', flags: [], steps: [['w', 0, 100, 3], ['u', 1_200_000_000, 123_456_789]] },
      { op: 'stat', path: 'a' },
    ],
  },
  {
    // Found by the property below (shrunk by hand from seed -1001229972).
    name: 'regression: a write by root keeps the set-user-ID and set-group-ID bits (Linux keeps them for CAP_FSETID)',
    ops: [
      { op: 'write', path: 'a', off: 0, len: 10, seed: 1, flags: ['creat'] },
      { op: 'chmod', path: 'a', mode: 0o6755 },
      { op: 'write', path: 'a', off: 5, len: 10, seed: 2, flags: [] },
      { op: 'stat', path: 'a' },
      { op: 'fdseq', path: 'a', flags: [], steps: [['w', 0, 100, 3], ['t', 50], ['f']] },
      { op: 'stat', path: 'a' },
    ],
  },
  {
    // Found by the property below (seed 99); intermittent: about 1 run in 100 answers EBADF to the
    // last write (op #6), and from then on lstat of b/c answers EBADF too. Hence the repeats; the
    // race is in the agent and the kernel, not the store: fewer on Swift and S3, where each costs more.
    name: 'regression: append through one hard link after O_TRUNC+append through the other (intermittent EBADF)',
    repeat: testBackend() === 'local' ? 25 : 5,
    ops: [
      { op: 'mkdir', path: 'a', mode: 0o755 },
      { op: 'mkdir', path: 'b', mode: 0o755 },
      { op: 'write', path: 'b/c', off: 0, len: 200_000, seed: 3, flags: ['creat'] },
      { op: 'link', from: 'b/c', to: 'a/c' },
      { op: 'write', path: 'a/c', off: 1, len: 103_847, seed: 13051, flags: ['creat', 'append', 'trunc'] },
      { op: 'create', path: 'b/c', mode: 0o1777, excl: false },
      { op: 'write', path: 'b/c', off: 1, len: 131_072, seed: 263020, flags: ['creat', 'append'] },
      { op: 'stat', path: 'b/c' },
    ],
  },
  {
    // Found by the property below (seed 1). Linux's truncate(2) marks mtime and ctime even when
    // the size does not change (POSIX requires it only when it does).
    name: 'regression: truncate(2) to the same size updates mtime, as on Linux',
    ops: [
      { op: 'fdseq', path: 'd', flags: ['creat'], steps: [['u', 1_000_000_000, 0]] },
      { op: 'truncate', path: 'd', size: 0 },
      { op: 'stat', path: 'd' },
      { op: 'write', path: 'e', off: 0, len: 10, seed: 1, flags: ['creat'] },
      { op: 'utime', path: 'e', sec: 1_000_000_000, nsec: 0 },
      { op: 'truncate', path: 'e', size: 10 },
      { op: 'stat', path: 'e' },
    ],
  },
  {
    name: 'scenario: one open file: read own unflushed writes, truncate while dirty, extend past a hole',
    ops: [
      { op: 'fdseq', path: 'a', flags: ['creat'], steps: [['w', 0, 200_000, 1], ['r', 100_000, 50_000], ['t', 1000], ['r', 0, 200_000], ['w', 300_000, 10, 2], ['s'], ['r', 0, 400_000], ['f'], ['r', 299_990, 30]] },
      { op: 'read', path: 'a', off: 0, len: 400_000 },
      { op: 'stat', path: 'a' },
    ],
  },
  {
    name: 'scenario: sparse write far past EOF reads zeros; truncate up and down',
    ops: [
      { op: 'write', path: 'a', off: 5_000_000, len: 7, seed: 3, flags: ['creat'] },
      { op: 'read', path: 'a', off: 4_999_000, len: 2000 },
      { op: 'truncate', path: 'a', size: 4_999_995 },
      { op: 'truncate', path: 'a', size: 6_000_000 },
      { op: 'read', path: 'a', off: 4_999_000, len: 2000 },
      { op: 'stat', path: 'a' },
    ],
  },
  {
    name: 'scenario: O_APPEND and O_TRUNC writes',
    ops: [
      { op: 'write', path: 'a', off: 0, len: 10_000, seed: 1, flags: ['creat'] },
      { op: 'write', path: 'a', off: 0, len: 300, seed: 2, flags: ['append'] },
      { op: 'write', path: 'a', off: 0, len: 131_073, seed: 3, flags: ['append'] },
      { op: 'stat', path: 'a' },
      { op: 'write', path: 'a', off: 50, len: 100, seed: 4, flags: ['trunc'] },
      { op: 'read', path: 'a', off: 0, len: 1000 },
    ],
  },
  {
    name: 'scenario: rename a file over a hard-linked file keeps the other link',
    ops: [
      { op: 'write', path: 'a', off: 0, len: 5000, seed: 1, flags: ['creat'] },
      { op: 'link', from: 'a', to: 'b' },
      { op: 'write', path: 'c', off: 0, len: 7000, seed: 2, flags: ['creat'] },
      { op: 'rename', from: 'c', to: 'a' },
      { op: 'stat', path: 'b' },
      { op: 'read', path: 'b', off: 0, len: 10_000 },
      { op: 'read', path: 'a', off: 0, len: 10_000 },
      { op: 'rename', from: 'a', to: 'a' },
      { op: 'link', from: 'b', to: 'a' },
      { op: 'rename', from: 'a', to: 'b' },
    ],
  },
  {
    name: 'scenario: directories renamed over empty and non-empty ones, into their own subtree, onto files',
    ops: [
      { op: 'mkdir', path: 'a', mode: 0o755 },
      { op: 'mkdir', path: 'a/b', mode: 0o700 },
      { op: 'mkdir', path: 'c', mode: 0o755 },
      { op: 'rename', from: 'a', to: 'a/b/c' },
      { op: 'rename', from: 'c', to: 'a' },
      { op: 'rename', from: 'a', to: 'c' },
      { op: 'mkdir', path: 'a', mode: 0o755 },
      { op: 'create', path: 'b', mode: 0o644, excl: true },
      { op: 'rename', from: 'c', to: 'b' },
      { op: 'rename', from: 'b', to: 'c' },
      { op: 'rename', from: 'c/b', to: 'a' },
      { op: 'stat', path: '.' },
      { op: 'stat', path: 'a' },
    ],
  },
  {
    name: 'scenario: wrong-type errors: unlink a directory, rmdir a file, link a directory, write a directory',
    ops: [
      { op: 'mkdir', path: 'a', mode: 0o755 },
      { op: 'create', path: 'b', mode: 0o644, excl: false },
      { op: 'unlink', path: 'a' },
      { op: 'rmdir', path: 'b' },
      { op: 'link', from: 'a', to: 'c' },
      { op: 'write', path: 'a', off: 0, len: 1, seed: 1, flags: [] },
      { op: 'truncate', path: 'a', size: 0 },
      { op: 'mkdir', path: 'b/c', mode: 0o755 },
      { op: 'create', path: 'b', mode: 0o644, excl: true },
      { op: 'rmdir', path: 'c' },
      { op: 'readdir', path: 'b' },
    ],
  },
  {
    name: 'scenario: xattr create and replace flags, remove, list, on files and directories',
    ops: [
      { op: 'create', path: 'a', mode: 0o644, excl: false },
      { op: 'mkdir', path: 'b', mode: 0o755 },
      { op: 'setxattr', path: 'a', name: 'user.a', len: 10, seed: 1, flags: 2 },
      { op: 'setxattr', path: 'a', name: 'user.a', len: 10, seed: 1, flags: 1 },
      { op: 'setxattr', path: 'a', name: 'user.a', len: 0, seed: 2, flags: 1 },
      { op: 'setxattr', path: 'a', name: 'user.a', len: 0, seed: 2, flags: 2 },
      { op: 'getxattr', path: 'a', name: 'user.a' },
      { op: 'getxattr', path: 'a', name: 'user.b' },
      { op: 'setxattr', path: 'b', name: 'user.b', len: 200, seed: 3, flags: 0 },
      { op: 'listxattr', path: 'b' },
      { op: 'removexattr', path: 'a', name: 'user.b' },
      { op: 'removexattr', path: 'b', name: 'user.b' },
      { op: 'listxattr', path: 'b' },
    ],
  },
  {
    name: 'scenario: setgid directory: new subdirectories inherit the bit; chmod of an open-then-written file',
    ops: [
      { op: 'mkdir', path: 'a', mode: 0o2755 },
      { op: 'mkdir', path: 'a/b', mode: 0o755 },
      { op: 'create', path: 'a/c', mode: 0o644, excl: true },
      { op: 'chmod', path: 'a/c', mode: 0o000 },
      { op: 'write', path: 'a/c', off: 10, len: 10, seed: 1, flags: [] },
      { op: 'stat', path: 'a/b' },
      { op: 'stat', path: 'a/c' },
    ],
  },
];

for (const r of REGRESSIONS) {
  // About 2 s a run; repeated cases get room for a loaded machine (25 runs took 50-60 s there).
  test(r.name, { timeout: 60_000 + ((r.repeat ?? 1) - 1) * 10_000 }, async () => {
    for (let i = 0; i < (r.repeat ?? 1); i++) await compare(r.ops);
  });
}

test('a pfs mount and a plain directory agree on random operation sequences', { timeout: 200_000 }, async () => {
  // Fewer runs on Swift and S3, whose closes and fsyncs each wait for a PUT.
  const numRuns = Number(process.env.PFS_DIFF_RUNS ?? (testBackend() === 'local' ? 40 : 20));
  const seed = process.env.PFS_DIFF_SEED === undefined ? undefined : Number(process.env.PFS_DIFF_SEED);
  const path = process.env.PFS_DIFF_PATH;
  const out = await fc.check(fc.asyncProperty(opsArb, (ops) => compare(ops)), {
    numRuns, seed, path,
    // A failure shrinks for at most this long; the best counterexample so far is reported.
    interruptAfterTimeLimit: 150_000,
  });
  if (out.failed) {
    assert.fail(`seed ${out.seed}, path ${out.counterexamplePath}, after ${out.numShrinks} shrinks; counterexample:\n` +
      `${JSON.stringify(out.counterexample?.[0])}\n${String(out.errorInstance)}`);
  }
  assert.ok(out.numRuns > 0, 'no run completed');
  if (out.interrupted) assert.fail(`interrupted by the time limit after ${out.numRuns} runs (too slow?)`);
});

test('long sequences: a pfs mount and a plain directory agree on 10 seeds × 2 000 operations', { skip: testBackend() !== 'local' && 'local backend only', timeout: 600_000 }, async () => {
  const length = Number(process.env.PFS_DIFF_LONG_OPS ?? 2000);
  const longArb = fc.array(opArb, { minLength: length, maxLength: length }).map((ops) => [...SETUP, ...ops]);
  const out = await fc.check(fc.asyncProperty(longArb, (ops) => compare(ops)), {
    numRuns: Number(process.env.PFS_DIFF_LONG_RUNS ?? 10),
    seed: process.env.PFS_DIFF_SEED === undefined ? undefined : Number(process.env.PFS_DIFF_SEED),
    path: process.env.PFS_DIFF_PATH,
    endOnFailure: true, // no shrinking of 2 000 ops: the failing op and the ones before it are shown
  });
  if (out.failed) assert.fail(`seed ${out.seed}, path ${out.counterexamplePath}\n${String(out.errorInstance)}`);
  assert.equal(out.numRuns, Number(process.env.PFS_DIFF_LONG_RUNS ?? 10));
});

test(`the other FUSE session (${OTHER_SESSION}) and a plain directory agree on random operation sequences`, { skip: testBackend() !== 'local' && 'local backend only', timeout: 120_000 }, async () => {
  const arb = OTHER_SESSION === 'highlevel' ? byNameOpsArb : opsArb;
  const out = await fc.check(fc.asyncProperty(arb, (ops) => compare(ops, other!)), {
    numRuns: Number(process.env.PFS_DIFF_RUNS ?? 12), interruptAfterTimeLimit: 90_000,
  });
  if (out.failed) {
    assert.fail(`seed ${out.seed}, path ${out.counterexamplePath}, after ${out.numShrinks} shrinks; counterexample:\n` +
      `${JSON.stringify(out.counterexample?.[0])}\n${String(out.errorInstance)}`);
  }
  assert.ok(out.numRuns > 0, 'no run completed');
});
