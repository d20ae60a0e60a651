import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vfs } from '../vfs/index.js';
import { createOps } from './ops.js';
import { errnoName } from './errno.js';
import { decodeFlock, decodeLock, encodeConflict, endOf, ownerString } from './lock-args.js';

const signal = new AbortController().signal;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

test('binding ranges (len 0 = to EOF) become [start, end) with -1 = EOF, and back', () => {
  assert.equal(endOf(10, 0), -1);
  assert.equal(endOf(10, 5), 15);
  assert.deepEqual(decodeLock({ type: 'wrlck', start: 10, len: 5, pid: 3, closing: false, signal }, true),
    { type: 'write', start: 10, end: 15, wait: true, pid: 3, closing: false, signal });
  assert.equal(decodeLock({ type: 'unlck', start: 0, len: 0, pid: 0, closing: true, signal }, false).end, -1);
  assert.deepEqual(encodeConflict({ type: 'read', start: 4, end: -1, pid: 9 }), { type: 'rdlck', start: 4, len: 0, pid: 9 });
  assert.deepEqual(encodeConflict({ type: 'write', start: 4, end: 10, pid: 9 }), { type: 'wrlck', start: 4, len: 6, pid: 9 });
  assert.equal(encodeConflict(undefined).type, 'unlck');
  assert.equal(ownerString(0xffff_ffff_ffff_fff0n), '18446744073709551600');
  assert.deepEqual(decodeFlock({ op: 'exclusive', nonblock: true, closing: false, signal }, 5),
    { type: 'write', start: 0, end: -1, wait: false, pid: 5, closing: false, signal });
});

test('lock and flock handlers: setlkw waits, getlk encodes, EINTR and EAGAIN become their errno', async () => {
  const seen: unknown[] = [];
  const vfs = {
    setLock: async (fh: number, owner: string, req: { type: string; wait: boolean }) => {
      seen.push(['setLock', fh, owner, req.type, req.wait]);
      if (req.type === 'read') throw Object.assign(new Error('interrupted'), { code: 'EINTR' });
    },
    getLock: async () => ({ type: 'write', start: 0, end: -1, pid: 12 }),
    flock: async () => { throw Object.assign(new Error('held'), { code: 'EAGAIN' }); },
  } as unknown as Vfs;
  const { ops } = createOps({ vfs, log: quiet, trace: false, blockSizeBytes: 4096, callerContext: () => ({ uid: 0, gid: 0, pid: 1, umask: 0 }) });
  const call = (fn: (cb: (...a: unknown[]) => void) => void) => new Promise<unknown[]>((resolve) => fn((...a) => resolve(a)));
  const lk = (type: 'rdlck' | 'wrlck') => ({ type, start: 0, len: 0, pid: 1, closing: false, signal });
  assert.deepEqual(await call((cb) => ops.lock!('/f', 3, 'setlkw', lk('wrlck'), 5n, cb as never)), [0]);
  const [eintr] = await call((cb) => ops.lock!('/f', 3, 'setlkw', lk('rdlck'), 5n, cb as never));
  assert.equal(errnoName(eintr as number), 'EINTR');
  assert.deepEqual(await call((cb) => ops.lock!('/f', 3, 'getlk', lk('rdlck'), 5n, cb as never)), [0, { type: 'wrlck', start: 0, len: 0, pid: 12 }]);
  const [again] = await call((cb) => ops.flock!('/f', 3, { op: 'exclusive', nonblock: true, closing: false, signal }, 6n, cb as never));
  assert.equal(errnoName(again as number), 'EAGAIN');
  assert.deepEqual(seen, [['setLock', 3, '5', 'write', true], ['setLock', 3, '5', 'read', true]]);
});
