/**
 * Corruption: one byte flipped in a log-segment object of the volume's local object store
 * (proxyfsd's <dir>/objects, one file per 16-hex-digit key) while no agent runs. After a
 * remount, reading the file fails with EIO (cat, dd and python all say "Input/output error")
 * and never returns the bad byte; the agent's log names the inode, the object and the offset.
 *
 * Reproduce: make build && node --test dist/test/e2e/corruption.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { objectIdOf } from '../../src/common/protocol/index.js';
import { localTempDir, q, sh, startMount } from '../support/agent.js';

const SIZE = 3 << 20;
const FLIP_AT = (3 << 19) + 12345; // file offset of the flipped byte (~1.5 MiB)

/** The log-segment object holding the source's bytes at fileOffset, and where in it. */
function locate(objectsDir: string, source: Buffer, fileOffset: number): { key: string; objectOffset: number } {
  const probe = source.subarray(fileOffset, fileOffset + 64);
  const found: { key: string; objectOffset: number }[] = [];
  for (const key of readdirSync(objectsDir)) {
    if (objectIdOf(key) === undefined) continue;
    const body = readFileSync(join(objectsDir, key));
    for (let at = body.indexOf(probe); at >= 0; at = body.indexOf(probe, at + 1)) found.push({ key, objectOffset: at });
  }
  assert.equal(found.length, 1, `expected the bytes at file offset ${fileOffset} in exactly one object of ${objectsDir}, found ${JSON.stringify(found)}`);
  return found[0]!;
}

test('a flipped byte in a log-segment object: reads fail with EIO, never bad data; the log names inode, object and offset', { timeout: 180_000 }, async (t) => {
  const m = await startMount();
  const local = localTempDir('pfs-corrupt-');
  try {
    const src = join(local.dir, 'src');
    await sh(`head -c ${SIZE} /dev/urandom > ${q(src)}`);
    const f = join(m.mnt, 'c', 'f');
    await sh(`mkdir ${q(m.mnt)}/c && dd if=${q(src)} of=${q(f)} bs=1M conv=fsync status=none`);
    const ino = (await sh(`stat -c %i ${q(f)}`)).stdout.trim();
    await m.stop(); // no agent, so no cache of the good bytes

    const objects = join(m.proxyfsd.dir, 'objects');
    const source = readFileSync(src);
    const { key, objectOffset } = locate(objects, source, FLIP_AT);
    const path = join(objects, key);
    const body = readFileSync(path);
    body[objectOffset] ^= 0xff;
    const mode = statSync(path).mode;
    writeFileSync(path, body, { mode });

    await m.restartAgent();
    const cat = await sh(`cat ${q(f)} > /dev/null`, { allowFail: true });
    assert.notEqual(cat.code, 0, 'cat read the corrupted file without an error');
    assert.match(cat.stderr, /Input\/output error/);

    const out = join(local.dir, 'out');
    const dd = await sh(`dd if=${q(f)} of=${q(out)} bs=1M status=none`, { allowFail: true });
    assert.notEqual(dd.code, 0, 'dd read the corrupted file without an error');
    assert.match(dd.stderr, /Input\/output error/);
    const got = readFileSync(out);
    assert.ok(got.length <= FLIP_AT, `dd got ${got.length} bytes, past the flipped byte at ${FLIP_AT}`);
    assert.ok(got.equals(source.subarray(0, got.length)), 'dd got bad data before the error');

    const py = await sh(`python3 -c "import os; fd = os.open('${f}', os.O_RDONLY); os.pread(fd, 100, ${FLIP_AT - 50})"`, { allowFail: true });
    assert.notEqual(py.code, 0, 'pread over the flipped byte succeeded');
    assert.match(py.stderr, /OSError: \[Errno 5\] Input\/output error/);

    // Far from the flipped byte (another cache line) the file still reads correctly.
    const head = await sh(`dd if=${q(f)} bs=64k count=1 status=none | sha256sum`);
    const want = await sh(`head -c 65536 ${q(src)} | sha256sum`);
    assert.equal(head.stdout, want.stdout, 'the first 64 KiB, away from the flipped byte, read wrongly');

    const log = m.stderr();
    const id = String(objectIdOf(key));
    const named = log.split('\n').filter((l) => l.includes(key) || new RegExp(`\\b${id}\\b`).test(l));
    assert.ok(named.length > 0, `no log line names the object ${key} (id ${id})\n${log.slice(-4000)}`);
    const line = named.find((l) => /ino/i.test(l) && /offset/i.test(l));
    assert.ok(line, `the log lines naming object ${key} do not name the inode and the offset:\n${named.join('\n')}`);
    assert.match(line, new RegExp(`\\b(ino|inode)\\W{0,3}${ino}\\b`, 'i'), `the log line does not name inode ${ino} (st_ino):\n${line}`);
    t.diagnostic(`log: ${line}`);
    await m.stop();
  } finally {
    await m.cleanup();
    local.remove();
  }
});
