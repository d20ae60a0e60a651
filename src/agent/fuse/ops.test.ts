import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsError } from '../../common/errors/index.js';
import type { Vfs } from '../vfs/index.js';
import { createOps, type OpObserver } from './ops.js';
import { errnoName } from './errno.js';

const caller = { uid: 1000, gid: 1000, pid: 1, umask: 0o022 };

function setup(trace: boolean) {
  const vfs = {
    readlink: async () => 'target',
    unlink: async () => { throw new FsError('ENOENT', 'x'); },
    rmdir: async () => { throw new Error('a bug'); },
    read: async (_fd: number, _pos: number, len: number, buf: Buffer) => { buf.fill(1, 0, len); return len; },
    write: async (_fd: number, _pos: number, data: Buffer) => data.length,
  } as unknown as Vfs;
  const seen: { op: string; seconds: number; errno?: string }[] = [];
  const bytes = { read: 0, written: 0 };
  const observer: OpObserver = {
    onOp: (op, seconds, errno) => seen.push({ op, seconds, errno }),
    onRead: (n) => { bytes.read += n; },
    onWrite: (n) => { bytes.written += n; },
  };
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const rec = (level: string) => (obj: object | string, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
  const { ops } = createOps({ vfs, log, trace, blockSizeBytes: 4096, callerContext: () => caller, observer });
  return { ops, seen, bytes, lines };
}

const reply = (fn: (cb: (...a: unknown[]) => void) => void) => new Promise<unknown[]>((resolve) => fn((...a) => resolve(a)));

test('each op is reported once with its latency and errno name; read/write bytes; one trace line per op', async () => {
  const { ops, seen, bytes, lines } = setup(true);
  assert.deepEqual(await reply((cb) => ops.readlink!('/l', cb as never)), [0, 'target']);
  const [code] = await reply((cb) => ops.unlink!('/missing', cb as never));
  assert.equal(errnoName(code as number), 'ENOENT');
  const [eio] = await reply((cb) => ops.rmdir!('/d', cb as never));
  assert.equal(errnoName(eio as number), 'EIO');
  assert.deepEqual(await reply((cb) => ops.read!('', 3, Buffer.alloc(8), 8, 0, cb as never)), [8]);
  assert.deepEqual(await reply((cb) => ops.write!('', 3, Buffer.alloc(5), 5, 0, cb as never)), [5]);

  assert.deepEqual(seen.map(({ op, errno }) => [op, errno]), [['readlink', undefined], ['unlink', 'ENOENT'], ['rmdir', 'EIO'], ['read', undefined], ['write', undefined]]);
  assert.ok(seen.every((s) => s.seconds >= 0 && s.seconds < 1));
  assert.deepEqual(bytes, { read: 8, written: 5 });
  const trace = lines.filter((l) => l.msg === 'fuse op');
  assert.deepEqual(trace.map((l) => [l.obj.op, l.obj.result]), [['readlink', 'ok'], ['unlink', 'ENOENT'], ['read', 'ok'], ['write', 'ok']]);
  assert.equal(trace[0]!.obj.detail, '/l');
  assert.ok(trace.every((l) => l.level === 'debug' && typeof l.obj.ms === 'number'));
  const unexpected = lines.filter((l) => l.level === 'error');
  assert.equal(unexpected.length, 1, 'the unexpected failure is logged at error level, with its op');
  assert.equal(unexpected[0]!.obj.op, 'rmdir');
});

test('without TraceEnabled no per-op lines are logged', async () => {
  const { ops, lines, seen } = setup(false);
  await reply((cb) => ops.readlink!('/l', cb as never));
  await reply((cb) => ops.unlink!('/missing', cb as never));
  assert.equal(lines.length, 0);
  assert.equal(seen.length, 2);
});

test('errnoName', () => {
  assert.equal(errnoName(-2), 'ENOENT');
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(-11), 'EAGAIN');
  assert.equal(errnoName(-99999), 'E99999');
});
